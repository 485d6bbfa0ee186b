"""The layers import downwards only: services never import the Celery tasks.

Read from the source with ``ast`` (imports inside functions count too), so a cycle cannot
hide behind a lazy import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "controlpanel" / "services"


def imported_modules(source: str, package: str) -> set[str]:
    """Every module (or module attribute) a source imports, relative imports resolved."""
    parts = package.split(".")
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            modules.add(module)
            modules.update(f"{module}.{alias.name}" for alias in node.names)
    return modules


def imports_tasks(source: str, package: str = "controlpanel.services") -> bool:
    return any(
        m.split(".")[:2] == ["controlpanel", "tasks"] for m in imported_modules(source, package)
    )


@pytest.mark.parametrize(
    "source",
    [
        "from controlpanel.tasks import send_notification",
        "from controlpanel import tasks",
        "import controlpanel.tasks",
        "def f():\n    from .. import tasks",
        "def f():\n    from ..tasks import send_notification",
    ],
)
def test_the_check_sees_every_way_to_import_the_tasks(source: str) -> None:
    assert imports_tasks(source)


def test_the_check_lets_other_imports_pass() -> None:
    assert not imports_tasks("from controlpanel import models\nfrom . import tracking")


@pytest.mark.parametrize("path", sorted(SERVICES.rglob("*.py")), ids=lambda p: p.name)
def test_services_do_not_import_the_tasks(path: Path) -> None:
    package = ".".join(["controlpanel", *path.relative_to(SERVICES.parent).parent.parts])
    assert not imports_tasks(path.read_text(), package), (
        f"{path.name} imports controlpanel.tasks: services return delivery ids and the tasks"
        " queue the sending"
    )
