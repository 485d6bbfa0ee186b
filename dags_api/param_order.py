"""The order in which a DAG file's author wrote the DAG's params, read with ``ast``.

Airflow 2 sends a DAG's params sorted by name; only the DAG file still has the author's
order. The file is parsed, never executed or imported: it is someone else's code, and
running it here could do anything. Only literal shapes are understood; anything else means
"cannot tell" (None), and the caller keeps the order Airflow gave.
"""

from __future__ import annotations

import ast
from pathlib import PurePath

# The file's stem stands in for ``Path(__file__).stem`` when the caller knows no file name.
_UNKNOWN = object()
# How many module-level names may lead to one another (``PARAMS = BASE``) before giving up.
_MAX_NAME_HOPS = 10


def param_order_from_source(
    source: str, dag_id: str, *, filename: str | None = None
) -> list[str] | None:
    """The param names of DAG ``dag_id`` in the order ``source`` writes them, or None.

    Finds ``DAG(...)`` calls (also ``with DAG(...) as dag``) and ``@dag``-decorated
    functions (whose DAG id defaults to the function name), picks the one whose id is
    ``dag_id`` and reads its ``params=``: a dict literal, ``ParamsDict({...})``,
    ``dict(a=..., b=...)`` or a module-level name bound to one of them. ``filename`` (a
    path or a bare name) resolves ``dag_id=Path(__file__).stem``. None when the file does
    not parse, no DAG in it is ``dag_id`` (a lone DAG with an id that cannot be read is
    taken), or its params are not a literal with string keys.
    """
    stem = PurePath(filename).stem if filename else None
    try:
        tree = ast.parse(source)
        finder = _DagFinder(_module_bindings(tree), stem)
        finder.visit(tree)
    except (SyntaxError, ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return None
    except MemoryError:  # what CPython's parser raises for nesting deeper than its stack
        return None
    matching = [params for found_id, params in finder.dags if found_id == dag_id]
    if not matching and len(finder.dags) == 1 and finder.dags[0][0] is _UNKNOWN:
        matching = [finder.dags[0][1]]
    if len(matching) != 1 or matching[0] is None:
        return None
    return _keys(matching[0], finder.bindings)


class _DagFinder(ast.NodeVisitor):
    """Collects (dag id or ``_UNKNOWN``, the ``params=`` expression or None) of each DAG."""

    def __init__(self, bindings: dict[str, ast.expr | None], stem: str | None) -> None:
        self.bindings = bindings
        self.stem = stem
        self.dags: list[tuple[object, ast.expr | None]] = []
        self._decorator_calls: set[int] = set()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            if _is_named(decorator, "dag"):  # a bare @dag: the function name, no params
                self.dags.append((node.name, _with_arguments(None, node)))
            elif isinstance(decorator, ast.Call) and _is_named(decorator.func, "dag"):
                self._decorator_calls.add(id(decorator))
                dag_id = self._dag_id(decorator, default=node.name)
                params = _keyword(decorator, "params")
                self.dags.append((dag_id or node.name, _with_arguments(params, node)))
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        if id(node) not in self._decorator_calls and _is_named(node.func, "DAG"):
            self.dags.append((self._dag_id(node, default=_UNKNOWN), _keyword(node, "params")))
        self.generic_visit(node)

    def _dag_id(self, call: ast.Call, default: object) -> object:
        """The DAG id a call names (keyword or first argument), ``default`` when it names none."""
        expr = _keyword(call, "dag_id")
        if expr is None and call.args and not isinstance(call.args[0], ast.Starred):
            expr = call.args[0]
        if expr is None:
            return default
        return self._text(expr, hops=0)

    def _text(self, expr: ast.expr, hops: int) -> object:
        """A string the expression surely is, else ``_UNKNOWN``."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return expr.value
        if _is_file_stem(expr):
            return self.stem if self.stem is not None else _UNKNOWN
        if isinstance(expr, ast.Name) and hops < _MAX_NAME_HOPS:
            bound = self.bindings.get(expr.id)
            if bound is not None:
                return self._text(bound, hops + 1)
        return _UNKNOWN


def _with_arguments(
    params: ast.expr | None, function: ast.FunctionDef | ast.AsyncFunctionDef
) -> ast.expr | None:
    """A ``@dag`` function's params: the decorator's, then each argument of the function.

    Airflow makes every argument of the decorated function a param, after the decorator's
    ``params`` (an argument already among them keeps its place). Returned as
    ``dict(params, a=..., b=...)``, a shape ``_keys`` reads.
    """
    arguments = function.args
    names = [a.arg for a in [*arguments.posonlyargs, *arguments.args]]
    names += [arguments.vararg.arg] if arguments.vararg else []
    names += [a.arg for a in arguments.kwonlyargs]
    names += [arguments.kwarg.arg] if arguments.kwarg else []
    if not names:
        return params
    keywords = [ast.keyword(arg=name, value=ast.Constant(None)) for name in names]
    return ast.Call(
        func=ast.Name(id="dict", ctx=ast.Load()),
        args=[params if params is not None else ast.Dict(keys=[], values=[])],
        keywords=keywords,
    )


def _module_bindings(tree: ast.Module) -> dict[str, ast.expr | None]:
    """Names assigned once at module level -> their value; names assigned again -> None."""
    bindings: dict[str, ast.expr | None] = {}
    for statement in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        elif isinstance(statement, ast.AugAssign):
            targets = [statement.target]  # changed after binding: not a literal any more
        for target in targets:
            if isinstance(target, ast.Name):
                bindings[target.id] = None if target.id in bindings else value
    return bindings


def _keys(expr: ast.expr, bindings: dict[str, ast.expr | None], hops: int = 0) -> list[str] | None:
    """The string keys of a params expression in source order, or None if not a literal."""
    if isinstance(expr, ast.Dict):
        names: list[str] = []
        for key in expr.keys:
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                return None  # a computed key or a ``**spread``
            names.append(key.value)
        return list(dict.fromkeys(names))  # a repeated key keeps its first place, as in Python
    if isinstance(expr, ast.Name) and hops < _MAX_NAME_HOPS:
        bound = bindings.get(expr.id)
        return None if bound is None else _keys(bound, bindings, hops + 1)
    if isinstance(expr, ast.Call) and _is_named(expr.func, "ParamsDict"):
        if expr.keywords or len(expr.args) > 1:
            return None
        return _keys(expr.args[0], bindings, hops) if expr.args else []
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "dict":
        return _dict_call_keys(expr, bindings, hops)
    return None


def _dict_call_keys(
    call: ast.Call, bindings: dict[str, ast.expr | None], hops: int
) -> list[str] | None:
    """``dict(a=1, b=2)``, ``dict({"a": 1}, b=2)``: the mapping's keys, then the keywords."""
    if len(call.args) > 1:
        return None
    names: list[str] = []
    if call.args:
        first = _keys(call.args[0], bindings, hops)
        if first is None:
            return None
        names += first
    for keyword in call.keywords:
        if keyword.arg is None:  # dict(**other)
            return None
        names.append(keyword.arg)
    return list(dict.fromkeys(names))


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    """The value of keyword argument ``name`` of a call, if given."""
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _is_named(expr: ast.expr, name: str) -> bool:
    """``name`` or ``something.name``: ``DAG``, ``models.DAG``, ``airflow.sdk.dag``."""
    if isinstance(expr, ast.Name):
        return expr.id == name
    return isinstance(expr, ast.Attribute) and expr.attr == name


def _is_file_stem(expr: ast.expr) -> bool:
    """``Path(__file__).stem`` (also ``pathlib.Path(__file__).stem``)."""
    if not (isinstance(expr, ast.Attribute) and expr.attr == "stem"):
        return False
    call = expr.value
    return (
        isinstance(call, ast.Call)
        and _is_named(call.func, "Path")
        and len(call.args) == 1
        and isinstance(call.args[0], ast.Name)
        and call.args[0].id == "__file__"
    )
