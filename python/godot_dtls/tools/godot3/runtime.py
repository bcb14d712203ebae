"""The Godot 3 Python runtime (godot-python 0.50, "pythonscript"): found, or built and cached.

godot-python's releases are binary downloads that some machines cannot reach, so the
runtime can be built from its sources: the 0.50.0 source archive, its ``godot_headers``
submodule and a patch that makes the Linux x86-64 build embed the CPython running the
build (Debian's ``/usr/bin/python3``, a shared-library build). The result,
``addons/pythonscript/`` plus ``pythonscript.gdnlib``, is cached outside the checkout under
a key made from the sources' hash and the embedding interpreter's version, so a second
run costs nothing. Next to it, the Python packages the embedded interpreter needs
(pyOpenSSL, cryptography, certifi: godot-python puts ``res://lib`` first on ``sys.path``)
are installed once per key as well.

Where the runtime comes from, in order:

1. ``GODOT_PYTHON`` naming a built runtime (a folder holding ``addons/pythonscript`` and
   ``pythonscript.gdnlib``, as a release zip unpacks) or a source tree ready to build
   (``SConstruct`` at its top, ``godot_headers`` filled in, patched to embed a local
   CPython);
2. the vendored sources: ``GODOT_PYTHON_VENDOR``, else ``shared/vendor/godot-python`` beside
   the repository checkout.

Nothing here is needed at run time by the library itself; the tests and ``godot-dtls
godot3`` use it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence, TextIO

__all__ = [
    "BUILD_TOOLS",
    "GODOT_PYTHON_VERSION",
    "Runtime",
    "RuntimeUnavailable",
    "cache_root",
    "find_runtime",
    "how_to_provide",
    "vendor_folder",
]

GODOT_PYTHON_VERSION = "0.50.0"
SOURCE_ARCHIVE = f"godot-python-{GODOT_PYTHON_VERSION}.tar.gz"
HEADERS_ARCHIVE_PREFIX = "godot_headers-"
PATCH_FILE = "embed-system-python.patch"
#: The build tools the 0.50 tag needs, at versions that work on CPython 3.11 (the tag's
#: own pins, Cython 0.29.21 and jinja2 2.10.3, do not).
BUILD_TOOLS = (
    "scons==3.1.2",
    "cython==0.29.37",
    "autopxd2==1.1.0",
    "pycparser==2.20",
    "jinja2==3.1.3",
)
#: The interpreter the build embeds: it must be a shared-library build.
EMBEDDED_PYTHON = "/usr/bin/python3"
#: Packages the embedded interpreter needs for godot_dtls (its own code is copied apart).
RUNTIME_PACKAGES = ("pyOpenSSL", "cryptography", "certifi")
#: Bumped whenever the recipe below changes, so old cache entries are not reused.
RECIPE_REVISION = "1"
#: Longest a build may take (a full build with every class binding takes about 6 min).
BUILD_TIMEOUT = 30 * 60.0
#: godot3-server is what the build runs to check the GDNative API.
GODOT_BINARY = "godot3-server"


class RuntimeUnavailable(RuntimeError):
    """The runtime cannot be provided here; the message says why in one line."""


@dataclass(frozen=True)
class Runtime:
    """A built godot-python: the addon folder, its ``.gdnlib`` and the site packages."""

    root: Path  # holds addons/pythonscript and pythonscript.gdnlib
    site_packages: Path  # pyOpenSSL, cryptography, certifi for the embedded interpreter
    python_version: str  # of the embedded interpreter, e.g. "3.11"

    @property
    def addon(self) -> Path:
        return self.root / "addons" / "pythonscript"

    @property
    def gdnlib(self) -> Path:
        return self.root / "pythonscript.gdnlib"


def how_to_provide() -> str:
    """The one line telling a user how to give the tests a Godot 3 Python runtime."""
    return (
        "set GODOT_PYTHON to a godot-python 0.50 build (a folder with addons/pythonscript "
        "and pythonscript.gdnlib) or to its source tree, or put the vendored sources in "
        "shared/vendor/godot-python beside the checkout"
    )


def cache_root() -> Path:
    """``GODOT_DTLS_CACHE``, else ``$XDG_CACHE_HOME/godot-dtls``, else ``~/.cache/godot-dtls``."""
    explicit = os.environ.get("GODOT_DTLS_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "godot-dtls"


def vendor_folder(checkout: Path | None = None) -> Path | None:
    """The vendored godot-python sources, or None when they are not on this machine."""
    explicit = os.environ.get("GODOT_PYTHON_VENDOR")
    candidates = [Path(explicit)] if explicit else []
    checkout = checkout or Path(__file__).resolve().parents[4]
    candidates.append(checkout.parent / "shared" / "vendor" / "godot-python")
    for folder in candidates:
        if (folder / SOURCE_ARCHIVE).is_file() and (folder / PATCH_FILE).is_file():
            return folder
    return None


def find_runtime(build: bool = True, log: TextIO | None = None) -> Runtime:
    """The runtime, from ``GODOT_PYTHON``, the cache, or a build of the vendored sources.

    ``build`` False only looks (no build, no download). Raises :class:`RuntimeUnavailable`.
    ``log`` is a file to write progress lines to (a build takes about a minute).
    """
    explicit = os.environ.get("GODOT_PYTHON")
    if explicit:
        folder = Path(explicit)
        if _is_built(folder):
            return _with_site_packages(folder, _interpreter_version_of(folder), build, log)
        if (folder / "SConstruct").is_file():
            key = _key([_tree_digest(folder)])
            return _cached_build(key, lambda work: _build_tree(folder, work, log), build, log)
        raise RuntimeUnavailable(
            f"GODOT_PYTHON={explicit} is neither a godot-python build nor its sources"
        )
    vendor = vendor_folder()
    if vendor is None:
        raise RuntimeUnavailable("no godot-python 0.50 runtime: " + how_to_provide())
    headers = sorted(vendor.glob(f"{HEADERS_ARCHIVE_PREFIX}*.tar.gz"))
    if len(headers) != 1:
        raise RuntimeUnavailable(f"{vendor} must hold exactly one {HEADERS_ARCHIVE_PREFIX}*.tar.gz")
    inputs = [vendor / SOURCE_ARCHIVE, headers[0], vendor / PATCH_FILE]
    key = _key([_file_digest(path) for path in inputs])
    return _cached_build(key, lambda work: _build_vendored(inputs, work, log), build, log)


# ----------------------------------------------------------------------------- caching


def _key(parts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for part in (RECIPE_REVISION, _embedded_python_version(), *parts):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tree_digest(folder: Path) -> str:
    """Digest of a source tree's file names, sizes and times (not its contents: fast)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if "build" in path.relative_to(folder).parts[:1] or not path.is_file():
            continue
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock, so two test runs never build into the same cache entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _cached_build(
    key: str, make: Callable[[Path], Path], build: bool, log: TextIO | None
) -> Runtime:
    root = cache_root()
    final = root / f"godot-python-{GODOT_PYTHON_VERSION}-{key}"
    with _locked(root / f"godot-python-{key}.lock"):
        if not _is_built(final):
            if not build:
                raise RuntimeUnavailable(f"godot-python is not built yet (cache: {final})")
            _require_build_prerequisites()
            work = Path(tempfile.mkdtemp(prefix=f"godot-python-{key}-", dir=root))
            try:
                started = time.monotonic()
                _say(log, f"building godot-python {GODOT_PYTHON_VERSION} (cache key {key}) ...")
                dist = make(work)
                staged = work / "result"
                staged.mkdir()
                shutil.move(str(dist / "addons"), str(staged / "addons"))
                shutil.move(str(dist / "pythonscript.gdnlib"), str(staged / "pythonscript.gdnlib"))
                if final.exists():
                    shutil.rmtree(final)
                staged.rename(final)
                _say(log, f"built godot-python in {time.monotonic() - started:.0f} s: {final}")
            finally:
                shutil.rmtree(work, ignore_errors=True)
    return _with_site_packages(final, _embedded_python_version(), build, log)


def _is_built(folder: Path) -> bool:
    return (folder / "pythonscript.gdnlib").is_file() and (
        folder / "addons" / "pythonscript"
    ).is_dir()


def _say(log: TextIO | None, line: str) -> None:
    if log is not None:
        print(line, file=log, flush=True)


# ---------------------------------------------------------------------------- building


def _embedded_python_version() -> str:
    """``major.minor`` of the interpreter the build embeds (checked to exist)."""
    if not os.access(EMBEDDED_PYTHON, os.X_OK):
        raise RuntimeUnavailable(f"{EMBEDDED_PYTHON} is missing: the build embeds it")
    done = _run(
        [EMBEDDED_PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], timeout=60
    )
    return done.stdout.strip()


def _interpreter_version_of(folder: Path) -> str:
    """The ``pythonX.Y`` folder inside a built runtime's x11-64 tree."""
    lib = folder / "addons" / "pythonscript" / "x11-64" / "lib"
    for entry in sorted(lib.glob("python3.*")):
        if entry.is_dir():
            return entry.name[len("python") :]
    raise RuntimeUnavailable(f"{folder} has no x11-64/lib/python3.* (not a Linux x86-64 build)")


def _require_build_prerequisites() -> None:
    missing = [tool for tool in ("gcc", GODOT_BINARY) if shutil.which(tool) is None]
    if missing:
        raise RuntimeUnavailable(
            f"building godot-python needs {', '.join(missing)} (apt-get install)"
        )
    probe = _run(
        [
            EMBEDDED_PYTHON,
            "-c",
            "import sysconfig, os, venv, ensurepip; "
            "d = sysconfig.get_config_var('LIBDIR'); n = sysconfig.get_config_var('INSTSONAME'); "
            "h = sysconfig.get_paths()['include']; "
            "print(os.path.exists(os.path.join(d, n)) "
            "and os.path.exists(os.path.join(h, 'Python.h')))",
        ],
        timeout=60,
        check=False,
    )
    if probe.returncode != 0 or probe.stdout.strip() != "True":
        raise RuntimeUnavailable(
            f"building godot-python needs {EMBEDDED_PYTHON} with venv, ensurepip, a shared "
            "libpython and its headers (apt-get install python3-venv python3-dev)"
        )


def _build_vendored(inputs: Sequence[Path], work: Path, log: TextIO | None) -> Path:
    source_archive, headers_archive, patch = inputs
    _extract(source_archive, work)
    tree = work / f"godot-python-{GODOT_PYTHON_VERSION}"
    headers = tree / "godot_headers"
    if headers.exists():
        shutil.rmtree(headers)
    _extract(headers_archive, tree)
    _run(["patch", "-p1", "-i", str(patch)], cwd=tree, timeout=60)
    return _build_tree(tree, work, log)


def _extract(archive: Path, into: Path) -> None:
    with tarfile.open(archive) as tar:
        if sys.version_info >= (3, 12):
            tar.extractall(into, filter="data")
        else:
            for member in tar.getmembers():
                target = (into / member.name).resolve()
                if into.resolve() not in target.parents and target != into.resolve():
                    raise RuntimeUnavailable(
                        f"{archive} holds a path outside the archive: {member.name}"
                    )
            tar.extractall(into)


def _build_tree(tree: Path, work: Path, log: TextIO | None) -> Path:
    """Run the tested recipe in ``tree``; returns its ``build/dist``."""
    venv = work / "venv"
    _run([EMBEDDED_PYTHON, "-m", "venv", str(venv)], timeout=300)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    _say(log, "  installing the build tools: " + " ".join(BUILD_TOOLS))
    _run([*pip, *BUILD_TOOLS], timeout=900)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONPATH", None)
    jobs = str(max(1, min(4, os.cpu_count() or 1)))
    command = [
        str(venv / "bin" / "scons"),
        "platform=x11-64",
        f"godot_binary={shutil.which(GODOT_BINARY)}",
        "bindings_generate_sample=true",
        f"-j{jobs}",
    ]
    _say(log, "  " + " ".join(command))
    _run(command, cwd=tree, env=env, timeout=BUILD_TIMEOUT, log_to=work / "build.log")
    dist = tree / "build" / "dist"
    if not _is_built(dist):
        raise RuntimeUnavailable(
            f"the godot-python build produced no build/dist (see {work}/build.log)"
        )
    return dist


def _run(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float,
    check: bool = True,
    log_to: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            list(command),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeUnavailable(f"{command[0]} did not finish in {timeout:.0f} s") from None
    except OSError as exc:
        raise RuntimeUnavailable(f"cannot run {command[0]}: {exc}") from None
    if log_to is not None:
        log_to.write_text(done.stdout + done.stderr, encoding="utf-8", errors="replace")
    if check and done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeUnavailable(f"{Path(command[0]).name} failed ({done.returncode}): {tail[0]}")
    return done


# ------------------------------------------------------------------- site packages


def _package_versions() -> list[str]:
    """The runtime packages pinned to the versions this interpreter has, so the engine
    runs the same pyOpenSSL and cryptography as the rest of the tests."""
    pins = []
    for name in RUNTIME_PACKAGES:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def _with_site_packages(
    root: Path, python_version: str, build: bool, log: TextIO | None
) -> Runtime:
    pins = _package_versions()
    key = hashlib.sha256("\0".join([root.name, python_version, *pins]).encode()).hexdigest()[:16]
    target = cache_root() / f"godot-python-site-{key}"
    with _locked(cache_root() / f"godot-python-site-{key}.lock"):
        if not (target / ".complete").is_file():
            if not build:
                raise RuntimeUnavailable(f"the runtime's packages are not installed yet ({target})")
            staging = Path(tempfile.mkdtemp(prefix="site-", dir=cache_root()))
            try:
                _say(log, f"installing {', '.join(pins)} for the embedded Python {python_version}")
                _run(
                    [
                        *_pip_for(python_version),
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                        "--only-binary=:all:",
                        "--python-version",
                        python_version,
                        "--target",
                        str(staging),
                        *pins,
                    ],
                    timeout=900,
                )
                (staging / ".complete").write_text(" ".join(pins) + "\n")
                if target.exists():
                    shutil.rmtree(target)
                staging.rename(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return Runtime(root=root, site_packages=target, python_version=python_version)


def _pip_for(python_version: str) -> list[str]:
    """A pip that can install wheels for the embedded interpreter's version.

    ``--python-version`` with ``--only-binary`` lets any pip of this machine fetch wheels
    for another CPython of the same platform, so the one running this code serves.
    """
    return [sys.executable, "-m", "pip"]
