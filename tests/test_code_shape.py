"""The code keeps its shape: no module over 450 lines, no function or method over 60.

Read from the source with ``ast``, so it needs no database and no outside process. The
migrations and the settings module are long by nature and their length is not counted;
their functions are.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("controlpanel", "dags_api")
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60
LONG_BY_NATURE = ("controlpanel/migrations/", "controlpanel/settings.py")


def python_files() -> dict[str, str]:
    """Every module of the panel and of dags_api: source by path relative to the project."""
    return {
        path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def function_lengths(source: str) -> Iterator[tuple[str, int]]:
    """(qualified name, lines from ``def`` to its last line) of every function and method,
    nested ones too: ``Class.method``, ``outer.inner``."""

    def visit(node: ast.AST, prefix: str) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    yield name, (child.end_lineno or child.lineno) - child.lineno + 1
                yield from visit(child, name + ".")
            else:
                yield from visit(child, prefix)

    return visit(ast.parse(source), "")


def long_modules(files: dict[str, str]) -> dict[str, int]:
    """Modules over MAX_MODULE_LINES, by path, with their length (long-by-nature left out)."""
    lengths = {path: len(source.splitlines()) for path, source in files.items()}
    return {
        path: lines
        for path, lines in lengths.items()
        if lines > MAX_MODULE_LINES and not path.startswith(LONG_BY_NATURE)
    }


def long_functions(files: dict[str, str]) -> dict[str, int]:
    """Functions over MAX_FUNCTION_LINES, as ``path::Qualified.name``, with their length."""
    return {
        f"{path}::{name}": lines
        for path, source in files.items()
        for name, lines in function_lengths(source)
        if lines > MAX_FUNCTION_LINES
    }


def described(offenders: dict[str, int]) -> str:
    return "\n".join(f"  {name}: {lines} lines" for name, lines in sorted(offenders.items()))


def _function(name: str, lines: int, indent: str = "") -> str:
    body = f"{indent}    x = 1\n" * (lines - 1)
    return f"{indent}def {name}() -> None:\n{body}"


def test_the_measure_names_functions_methods_and_nested_ones_with_their_length() -> None:
    source = (
        _function("short", 3)
        + "class Transport:\n"
        + _function("_send", 61, indent="    ")
        + "    async def later(self) -> None:\n"
        + _function("inner", 2, indent="        ")
    )
    assert dict(function_lengths(source)) == {
        "short": 3,
        "Transport._send": 61,
        "Transport.later": 3,
        "Transport.later.inner": 2,
    }


def test_the_limits_let_exactly_60_and_450_lines_pass() -> None:
    files = {
        "dags_api/at_limit.py": _function("at_limit", 60) + "y = 1\n" * 390,
        "dags_api/over.py": _function("over", 61) + "y = 1\n" * 390,
        "controlpanel/migrations/0099_long.py": "y = 1\n" * 900,
        "controlpanel/settings.py": "y = 1\n" * 900,
    }
    assert long_functions(files) == {"dags_api/over.py::over": 61}
    assert long_modules(files) == {"dags_api/over.py": 451}


def test_no_module_is_over_450_lines() -> None:
    offenders = long_modules(python_files())
    assert not offenders, (
        f"modules over {MAX_MODULE_LINES} lines; make each a package split by concern:\n"
        + described(offenders)
    )


def test_no_function_is_over_60_lines() -> None:
    offenders = long_functions(python_files())
    assert not offenders, (
        f"functions over {MAX_FUNCTION_LINES} lines; split them into well-named helpers:\n"
        + described(offenders)
    )
