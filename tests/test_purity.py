"""The pure layers import no IO, no clock and no event loop (ARCHITECTURE.md, STYLE.md).

``pacing/``, ``agents/``, ``rules/`` and ``telephony/call_state.py`` must never import
asyncio, time, socket, a database driver, panoramisk or prometheus_client, directly or
through another module of this project they import. Checked on the syntax tree (every
``import`` and ``from ... import``, at any depth, including ``if TYPE_CHECKING`` blocks
and imports inside functions), not with grep, so a comment or a string never trips it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PURE_DIRS = ("pacing", "agents", "rules")
PURE_FILES = ("telephony/call_state.py",)
FORBIDDEN = frozenset(
    {
        "asyncio",
        "time",
        "socket",
        "sqlalchemy",
        "aiosqlite",
        "panoramisk",
        "prometheus_client",
    }
)
PROJECT_PACKAGES = frozenset(
    p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()
) - {"tests"}


def pure_modules() -> list[Path]:
    files = [ROOT / f for f in PURE_FILES]
    for d in PURE_DIRS:
        if (ROOT / d).is_dir():
            files.extend(sorted((ROOT / d).rglob("*.py")))
    return files


def package_of(path: Path) -> tuple[str, ...]:
    return path.relative_to(ROOT).with_suffix("").parts[:-1]


def imported_names(path: Path, package: tuple[str, ...]) -> set[str]:
    """Every module name ``path`` imports, fully qualified (relative imports resolved
    against ``package``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                prefix = ".".join(base)
                mod = f"{prefix}.{node.module}" if node.module else prefix
            else:
                mod = node.module or ""
            names.add(mod)
            # ``from pkg import module`` may import a submodule of the project.
            names.update(f"{mod}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def project_file(module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] not in PROJECT_PACKAGES:
        return None
    as_file = ROOT.joinpath(*parts).with_suffix(".py")
    if as_file.is_file():
        return as_file
    as_pkg = ROOT.joinpath(*parts, "__init__.py")
    return as_pkg if as_pkg.is_file() else None


def forbidden_chains(start: Path) -> list[str]:
    """Import chains from ``start`` (through project modules) to a forbidden module."""
    found: list[str] = []
    seen: set[Path] = set()
    todo: list[tuple[Path, tuple[str, ...]]] = [(start, (str(start.relative_to(ROOT)),))]
    while todo:
        path, chain = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in sorted(imported_names(path, package_of(path))):
            if name.split(".")[0] in FORBIDDEN:
                found.append(" -> ".join((*chain, name)))
            target = project_file(name)
            if target is not None and target not in seen:
                todo.append((target, (*chain, name)))
    return found


def test_the_scan_finds_the_pure_modules() -> None:
    names = {str(p.relative_to(ROOT)) for p in pure_modules()}
    assert "telephony/call_state.py" in names
    assert "agents/state.py" in names
    assert "pacing/base.py" in names


def test_the_scanner_sees_every_kind_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os.path as p, time\n"
        "from asyncio import sleep\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    import socket\n"
        "def f():\n"
        "    import sqlalchemy.orm\n"
        "    return __import__('panoramisk')\n"
        "# import prometheus_client\n"
        "x = 'import aiosqlite'\n",
        encoding="utf-8",
    )
    names = {n.split(".")[0] for n in imported_names(sample, ("pkg",))}
    assert names & FORBIDDEN == {"time", "asyncio", "socket", "sqlalchemy", "panoramisk"}


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from . import base\nfrom ..dialer import ids\n", encoding="utf-8")
    names = imported_names(sample, ("pacing", "sub"))
    assert {"pacing.sub.base", "pacing.dialer.ids"} <= names


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_imports_no_io(path: Path) -> None:
    assert forbidden_chains(path) == []
