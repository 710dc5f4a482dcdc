"""DESIGN.md §4: dependencies flow one way, and nothing happens at import time.

    api -> interactions -> storage / search + searchparams -> fhir -> errors

Every `import` in src/fhir_sandbox (including ones inside functions and TYPE_CHECKING
blocks) is read with `ast` and checked against the rules below. A violation is reported as
`file:line imports module`; fix the import, do not loosen the rule.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "fhir_sandbox"

WEB = ("fastapi", "starlette", "uvicorn")
SQL = ("sqlalchemy", "sqlmodel")
ENTRY_POINTS = ("fhir_sandbox.app", "fhir_sandbox.cli", "fhir_sandbox.openapi")


@dataclass(frozen=True)
class Rule:
    layer: str  # a package (or module) prefix
    forbidden: tuple[str, ...]
    exempt: tuple[str, ...] = ()  # sub-packages the rule does not apply to


CORE = ("fhir_sandbox.api", "fhir_sandbox.interactions", "fhir_sandbox.storage")
RULES = [
    Rule(
        "fhir_sandbox.interactions",
        (*WEB, *SQL, "fhir_sandbox.api", "fhir_sandbox.storage.sql", *ENTRY_POINTS),
    ),
    Rule(
        "fhir_sandbox.storage",
        ("fhir_sandbox.api", "fhir_sandbox.interactions", *WEB, *ENTRY_POINTS),
    ),
    # only the SQL implementation knows SQL; the contract and the memory reference do not
    Rule("fhir_sandbox.storage", SQL, exempt=("fhir_sandbox.storage.sql",)),
    Rule("fhir_sandbox.search", (*CORE, *WEB, *SQL, *ENTRY_POINTS)),
    Rule("fhir_sandbox.searchparams", (*CORE, *WEB, *SQL, *ENTRY_POINTS)),
    Rule(
        "fhir_sandbox.fhir",
        (*CORE, "fhir_sandbox.search", "fhir_sandbox.searchparams", *WEB, *SQL, *ENTRY_POINTS),
    ),
    Rule(
        "fhir_sandbox.errors", ("fhir_sandbox", *WEB, *SQL)
    ),  # the bottom: imports nothing of ours
]


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import; `from a import b` yields both `a` and `a.b`."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(rule: Rule) -> list[str]:
    found = []
    for name, path in modules().items():
        if not _within(name, rule.layer) or any(_within(name, e) for e in rule.exempt):
            continue
        for line, imported in imports(path):
            if any(_within(imported, f) for f in rule.forbidden):
                found.append(f"{path.relative_to(SRC)}:{line} imports {imported}")
    return sorted(set(found))


@pytest.mark.parametrize("rule", RULES, ids=[f"{r.layer}-{i}" for i, r in enumerate(RULES)])
def test_dependencies_flow_one_way(rule: Rule) -> None:
    assert any(_within(m, rule.layer) for m in modules()), f"no modules in {rule.layer}"
    assert violations(rule) == []


def test_the_checker_sees_imports() -> None:
    """Guards the checker itself: known imports (absolute, relative, lazy) are found."""
    api_routes = {m for _, m in imports(modules()["fhir_sandbox.api.routes"])}
    assert "fhir_sandbox.interactions.context.Context" in api_routes
    assert "fastapi" in api_routes
    cli = {m for _, m in imports(modules()["fhir_sandbox.cli"])}
    assert "fhir_sandbox.app" in cli  # imported inside a function
    bad = Rule("fhir_sandbox.api", ("fhir_sandbox.interactions",))
    assert violations(bad)


# -- nothing at import time -----------------------------------------------------------------

_PROBE = r"""
import gc, json, os, sys

events = []
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def audit(event, args):
    if event in ("sqlite3.connect", "socket.connect", "os.mkdir", "shutil.copyfile"):
        events.append(f"{event} {args!r}")
    elif event == "open":
        path, mode, flags = args
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else flags & WRITE
        if writing:
            events.append(f"open {path!r} {mode or flags!r}")


sys.addaudithook(audit)
exec(sys.argv[1])
from sqlalchemy.engine import Engine

engines = [repr(o) for o in gc.get_objects() if isinstance(o, Engine)]
print(json.dumps({"events": events, "engines": engines}))
"""

PROBES = {
    "import-app": "import fhir_sandbox.app",
    "import-cli": "import fhir_sandbox.cli",
    "import-openapi": "import fhir_sandbox.openapi",
    # building the app (e.g. to write the OpenAPI document) must not open the database either:
    # the repository is created when the app starts
    "create-app": "from fhir_sandbox.openapi import openapi_document; openapi_document()",
}


@pytest.mark.parametrize("code", list(PROBES.values()), ids=list(PROBES))
def test_nothing_happens_at_import_time(tmp_path: Path, code: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_SANDBOX_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"events": [], "engines": []}
    assert list(tmp_path.iterdir()) == []
