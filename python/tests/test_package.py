"""The package itself: version, where the library comes from, and that the ctypes table
covers every function of the C header."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import HEADER, REPO, on_ci

import flowai_socket
from flowai_socket import _native

PACKAGE_DIR = Path(flowai_socket.__file__).resolve().parent


def cargo_version() -> str:
    text = (REPO / "Cargo.toml").read_text("utf-8")
    package = text.split("[package]", 1)[1]
    found = re.search(r'^version\s*=\s*"([^"]+)"', package, re.M)
    assert found, "no [package] version in Cargo.toml"
    return found.group(1)


def test_version_is_the_crates() -> None:
    assert flowai_socket.__version__ == cargo_version()
    assert flowai_socket.version() == cargo_version()


def test_typed_package() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()


def python(code: str, **env: str | None) -> str:
    """Runs ``code`` in a fresh interpreter with ``env`` changed (None: removed)."""
    child = dict(os.environ)
    for key, value in env.items():
        if value is None:
            child.pop(key, None)
        else:
            child[key] = value
    out = subprocess.run(
        [sys.executable, "-c", code], env=child, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_bundled_library_comes_first() -> None:
    bundled = PACKAGE_DIR / _native._library_name()
    if not bundled.is_file():
        if os.environ.get("FLOWAI_EXPECT_BUNDLED") or on_ci():
            pytest.fail(f"the installed package has no bundled library ({bundled})")
        pytest.skip("running from a checkout: no bundled library")
    shown = "import flowai_socket as f; print(f.library_path())"
    assert python(shown, FLOWAI_LIB=None) == str(bundled)
    # FLOWAI_LIB (even a bad one) does not override the bundled copy.
    assert python(shown, FLOWAI_LIB="/nonexistent/libflowai_socket.so") == str(bundled)
    origins = [origin for origin, _ in _native._library_candidates({"FLOWAI_LIB": "/x.so"})]
    assert origins[:2] == ["bundled", "FLOWAI_LIB"]


def built_library() -> Path:
    candidates = [REPO / "target" / p / _native._library_name() for p in ("release", "debug")]
    found = [p for p in candidates if p.is_file()]
    if not found:
        if on_ci():
            pytest.fail("no library in target/ (cargo build --lib)")
        pytest.skip("no library in target/: cargo build --lib")
    return max(found, key=lambda p: p.stat().st_mtime)


def test_from_a_checkout_flowai_lib_then_target(tmp_path: Path) -> None:
    """The sources without a bundled library (an editable install, PYTHONPATH=python/src)."""
    built = built_library()
    sources = str(REPO / "python" / "src")
    shown = "import flowai_socket as f; print(f.library_path())"
    env = {"PYTHONPATH": sources, "CARGO_TARGET_DIR": None}
    copy = tmp_path / _native._library_name()
    copy.write_bytes(built.read_bytes())
    assert python(shown, FLOWAI_LIB=str(copy), **env) == str(copy)
    assert Path(python(shown, FLOWAI_LIB=None, **env)).parent.parent == REPO / "target"
    version = "import flowai_socket as f; print(f.__version__)"
    assert python(version, FLOWAI_LIB=str(copy), **env) == cargo_version()


def header_functions() -> list[str]:
    text = HEADER.read_text("utf-8")
    return re.findall(r"\b(flowai_\w+)\(", re.sub(r"/\*.*?\*/", "", text, flags=re.S))


def test_every_header_function_is_declared() -> None:
    declared = [name for name, _, _ in flowai_socket._SIGNATURES]
    assert len(declared) == len(set(declared)), "a function is declared twice"
    in_header = sorted(set(header_functions()))
    assert sorted(declared) == in_header
    lib = flowai_socket.load_library()
    for name, restype, argtypes in flowai_socket._SIGNATURES:
        function = getattr(lib, name)
        assert function.restype is restype, name
        assert function.argtypes == argtypes, name
