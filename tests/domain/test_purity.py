"""The domain is pure: no I/O, network, logging or clock (AGENTS layout rule)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "service" / "domain"
BANNED_MODULES = {
    "flask",
    "requests",
    "http",
    "urllib",
    "socket",
    "os",
    "io",
    "pathlib",
    "time",
    "logging",
    "sqlalchemy",
}
BANNED_CALLS = {"now", "today", "utcnow"}


def _violations(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found += [n for n in names if n.split(".")[0] in BANNED_MODULES]
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in BANNED_CALLS:
                found.append(f".{func.attr}(")
            if isinstance(func, ast.Name) and func.id == "open":
                found.append("open(")
    return found


@pytest.mark.parametrize(
    "path", sorted(DOMAIN.rglob("*.py")), ids=lambda p: str(p.relative_to(DOMAIN))
)
def test_domain_module_is_pure(path: Path) -> None:
    assert _violations(ast.parse(path.read_text(encoding="utf-8"))) == []


def test_checker_catches_violations() -> None:
    bad = "import os\nfrom http import client\nimport datetime\ndatetime.date.today()\nopen('x')\n"
    assert _violations(ast.parse(bad)) == ["os", "http", ".today(", "open("]
