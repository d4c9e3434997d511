"""Build hooks of the flowai-socket Python package (hatchling).

- The metadata hook takes the package version from the crate (``cargo metadata``), so the
  wheel, ``flowai_socket.__version__`` and ``flowai_version()`` say the same thing.
- The wheel hook builds the C library with cargo, strips a copy of it and bundles that in the
  wheel as ``flowai_socket/libflowai_socket.so``; the wheel is tagged ``py3-none-<platform>``
  (for example ``py3-none-linux_x86_64``): one wheel for every Python 3, since ctypes loads
  the library without any Python ABI. Not ``manylinux``: the library links the system's
  OpenSSL (``libssl.so.3``), which the manylinux policies leave out, so such a tag would
  promise a portability the wheel does not have.

Both need the Rust sources, found by walking up from this directory to the ``Cargo.toml``
of the ``flowai-socket`` package (``pip install ./python`` from a checkout), or named by
``FLOWAI_CARGO_MANIFEST``. Environment knobs: ``CARGO`` (the cargo to run),
``CARGO_TARGET_DIR`` (honoured by cargo), ``FLOWAI_CARGO_PROFILE`` (``release``, the default,
or ``dev`` for a quick debug build, as the test suite does) and ``STRIP`` (the strip program).
An editable install (``pip install -e``) builds nothing: the package then loads the library
from ``FLOWAI_LIB`` or this tree's ``target/``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

PACKAGE = "flowai-socket"


def _library_name() -> str:
    """The library's file name on this platform, as the package looks for it (read from the
    package's own ``_native.py``, loaded by path: the package is not importable here)."""
    path = Path(__file__).parent / "src" / "flowai_socket" / "_native.py"
    spec = importlib.util.spec_from_file_location("_flowai_native", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    native = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(native)
    name: str = native._library_name()
    return name


def _cargo() -> str:
    return os.environ.get("CARGO") or "cargo"


def _manifest(root: str) -> Path:
    """The Cargo.toml of the flowai-socket package: FLOWAI_CARGO_MANIFEST, or the nearest
    one above ``root`` that names the package."""
    named = os.environ.get("FLOWAI_CARGO_MANIFEST")
    if named:
        return Path(named).resolve()
    for directory in Path(root).resolve().parents:
        candidate = directory / "Cargo.toml"
        if candidate.is_file() and f'name = "{PACKAGE}"' in candidate.read_text("utf-8"):
            return candidate
    raise RuntimeError(
        f"the Rust sources of {PACKAGE} were not found above {root}: build the Python package "
        "from a checkout of the repository (pip install ./python), or set "
        "FLOWAI_CARGO_MANIFEST to its Cargo.toml"
    )


def _run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, check=True, text=True, **kwargs)
    except FileNotFoundError as e:
        raise RuntimeError(
            f"{command[0]} not found: building flowai-socket needs a Rust toolchain "
            "(https://rustup.rs) and binutils' strip"
        ) from e


class CargoVersionHook(MetadataHookInterface):
    """Sets the package version to the crate's."""

    PLUGIN_NAME = "custom"

    def update(self, metadata: dict[str, Any]) -> None:
        manifest = _manifest(self.root)
        out = _run(
            [
                _cargo(),
                "metadata",
                "--no-deps",
                "--format-version",
                "1",
                "--manifest-path",
                str(manifest),
            ],
            stdout=subprocess.PIPE,
        ).stdout
        versions = [p["version"] for p in json.loads(out)["packages"] if p["name"] == PACKAGE]
        if not versions:
            raise RuntimeError(f"cargo metadata lists no package {PACKAGE} in {manifest}")
        metadata["version"] = versions[0]


class CargoLibraryHook(BuildHookInterface):  # type: ignore[type-arg]
    """Builds, strips and bundles the C library in the wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        library = self._build_library()
        self._scratch = tempfile.mkdtemp(prefix="flowai-wheel-")
        bundled = Path(self._scratch) / library.name
        shutil.copyfile(library, bundled)
        self._strip(bundled)
        build_data["force_include"][str(bundled)] = f"flowai_socket/{library.name}"
        build_data["pure_python"] = False
        build_data["tag"] = f"py3-none-{_platform_tag()}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)

    def _build_library(self) -> Path:
        """Runs ``cargo build --lib`` and returns the shared library cargo reports."""
        profile = os.environ.get("FLOWAI_CARGO_PROFILE", "release")
        command = [
            _cargo(),
            "build",
            "--lib",
            "--package",
            PACKAGE,
            "--profile",
            profile,
            "--manifest-path",
            str(_manifest(self.root)),
            "--message-format",
            "json-render-diagnostics",
        ]
        self.app.display_info(f"building the flowai library: {' '.join(command)}")
        out = _run(command, stdout=subprocess.PIPE).stdout
        name = _library_name()
        for line in out.splitlines():
            message = json.loads(line) if line.startswith("{") else {}
            if message.get("reason") != "compiler-artifact":
                continue
            if "cdylib" not in message.get("target", {}).get("kind", []):
                continue
            for path in message.get("filenames", []):
                if Path(path).name == name:
                    return Path(path)
        raise RuntimeError(f"cargo built no {name} (command: {' '.join(command)})")

    def _strip(self, library: Path) -> None:
        """Removes the symbol table and debug information (the exported functions stay)."""
        strip = os.environ.get("STRIP") or "strip"
        flags = ["-x"] if sys.platform == "darwin" else ["--strip-unneeded"]
        _run([strip, *flags, str(library)])


def _platform_tag() -> str:
    """This machine's plain platform tag (``linux_x86_64``), as hatchling infers it."""
    from packaging.tags import sys_tags

    return next(
        t.platform
        for t in sys_tags()
        if "manylinux" not in t.platform and "musllinux" not in t.platform
    )
