"""The layers of DESIGN.md ("Layers"): nothing imports a layer above its own.

The steps (``src/docket/steps/``) get what they need through a step context defined below the API
(:mod:`docket.steps.context`), so none of them may import :mod:`docket.api`, at module level or
inside a function. Read with ``ast`` (not by importing), so an import that only runs on some path
is found too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "docket"
STEPS = sorted((SRC / "steps").rglob("*.py"))


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, ``from x import y`` giving both ``x`` and ``x.y``
    (``from docket import api`` imports the module docket.api)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            found.append((node.lineno, str(node.args[0].value)))
    return found


def test_the_steps_are_found() -> None:
    names = {p.stem for p in STEPS}
    assert {"transfer", "qa", "batch", "context", "publication"} <= names, names


@pytest.mark.parametrize("path", STEPS, ids=lambda p: str(p.relative_to(SRC)))
def test_no_step_imports_the_api(path: Path) -> None:
    upward = [f"line {line}: {module}" for line, module in imported_modules(path)
              if module == "docket.api" or module.startswith("docket.api.") or module.startswith("docket.cli")]
    assert not upward, f"{path.relative_to(SRC)} imports a layer above the steps: {upward}"


def test_the_checker_sees_every_form_of_import(tmp_path: Path) -> None:
    """The test above must fail on each way of writing the import it forbids."""
    for source in ("from docket.api import Docket\n", "import docket.api\n", "from docket import api\n",
                   "def f():\n    from docket.api import now\n",
                   "import importlib\nimportlib.import_module('docket.api')\n"):
        path = tmp_path / "m.py"
        path.write_text(source)
        assert any(m == "docket.api" for _, m in imported_modules(path)), source


def test_the_old_names_still_import_from_the_api() -> None:
    """Actor, now and parse_ref moved below the API; code that imported them from it still works."""
    from docket import api
    from docket.people.actor import Actor
    from docket.steps import context

    assert api.Actor is Actor and api.now is context.now and api.parse_ref is context.parse_ref
    assert api.parse_ref("ocean-0007.2") == ("ocean-0007", 2)
