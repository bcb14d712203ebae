"""The package's floor plan: imports run one way, core ← api ← {net, engine} ← tools.

Read from the source with ``ast`` (nothing is imported), so a new upward import fails
here with the file and line that made it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "python" / "godot_dtls"
ADAPTERS = Path(__file__).resolve().parents[1] / "addons" / "godot_dtls" / "python"
LAYERS = ("core", "api", "net", "engine", "tools")

#: What each layer may import from the package (its own layer included).
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset({"core"}),
    "api": frozenset({"core", "api"}),
    "net": frozenset({"core", "api", "net"}),
    "engine": frozenset({"core", "api", "engine"}),
    "tools": frozenset(LAYERS),
    # godot_dtls/__init__.py re-exports the public names of the Godot API.
    "": frozenset({"core", "api", "net"}),
}
#: Third-party distributions the core may use besides the standard library.
CORE_THIRD_PARTY = frozenset({"OpenSSL", "cryptography"})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # ``from godot_dtls import engine`` names a sub-package, not an attribute.
            if target == "godot_dtls":
                found.extend((node.lineno, f"godot_dtls.{a.name}") for a in node.names)
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else ""


def _package_files() -> list[Path]:
    return sorted(PACKAGE_ROOT.rglob("*.py"))


def test_every_module_lives_in_a_layer():
    loose = [
        path.name
        for path in PACKAGE_ROOT.glob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    ]
    assert loose == [], f"modules outside core/api/net/engine/tools: {loose}"
    assert {p.name for p in PACKAGE_ROOT.iterdir() if p.is_dir() and p.name in LAYERS} == set(
        LAYERS
    )


@pytest.mark.parametrize("path", _package_files(), ids=lambda p: _module_name(p))
def test_imports_never_run_upward(path: Path):
    layer = _layer(_module_name(path))
    if path.name == "__main__.py":
        return  # ``python -m godot_dtls`` starts the command line, a tool
    allowed = ALLOWED[layer]
    upward = [
        f"line {line}: {target}"
        for line, target in _imports(path)
        if target.startswith("godot_dtls.") and _layer(target) not in allowed
    ]
    assert upward == [], f"{_module_name(path)} ({layer or 'package'}) imports upward: {upward}"


@pytest.mark.parametrize(
    "path", sorted((PACKAGE_ROOT / "core").rglob("*.py")), ids=lambda p: p.name
)
def test_the_core_imports_only_openssl_cryptography_and_the_standard_library(path: Path):
    outside = [
        f"line {line}: {target}"
        for line, target in _imports(path)
        if target.split(".")[0] not in sys.stdlib_module_names
        and target.split(".")[0] not in CORE_THIRD_PARTY
        and not target.startswith("godot_dtls.core")
    ]
    assert outside == []


def test_private_openssl_bindings_are_used_in_one_module_only():
    users = sorted(
        _module_name(path)
        for path in _package_files()
        if any(target.startswith("OpenSSL._") for _line, target in _imports(path))
    )
    assert users == ["godot_dtls.core.openssl_private"]


def test_the_core_opens_no_socket_and_reads_no_monotonic_clock():
    """Time enters the core only as the ``now`` argument (see core/verification.py for
    the one calendar read, which matches OpenSSL's own date check)."""
    for path in sorted((PACKAGE_ROOT / "core").rglob("*.py")):
        targets = {target for _line, target in _imports(path)}
        assert not targets & {"socket", "select", "selectors", "time", "asyncio"}, path.name


@pytest.mark.parametrize("path", sorted(ADAPTERS.rglob("*.py")), ids=lambda p: p.name)
def test_runtime_adapters_use_only_the_engine_layer(path: Path):
    """The adapters are declarations: everything they share comes from godot_dtls.engine."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("godot_dtls"):
            if node.module == "godot_dtls":
                used.update(f"godot_dtls.{alias.name}" for alias in node.names)
            else:
                used.add(node.module)
        elif isinstance(node, ast.Import):
            used.update(a.name for a in node.names if a.name.startswith("godot_dtls"))
    assert {name for name in used if not name.startswith("godot_dtls.engine")} == set()
