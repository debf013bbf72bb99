"""The hot-path modules compiled with Cython, and how to tell (or choose) what runs.

``setup.py`` compiles the unchanged ``.py`` files of :data:`COMPILED_MODULES` to C
extensions when Cython and a C compiler are there. Python imports an extension ahead of
its source, so two situations need care, and an import hook handles both:

- ``SCRAPEWATCH_PURE_PYTHON=1`` in the environment runs every module from its source
  (to compare speeds, to debug with breakpoints, to prove both behave the same);
- in a source tree, an extension older than its ``.py`` (the file was edited after the
  last build) would run the old code: the source is used instead, with one warning that
  says how to rebuild (``make build``).

This module imports only the standard library (the ``detectors`` purity rule).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

__all__ = ["COMPILED_MODULES", "NATIVE_MODULES", "PURE_ENV", "compiled_status", "install"]

#: Modules that every event or every window goes through (plain Python, compiled as is).
COMPILED_MODULES: tuple[str, ...] = (
    "detectors.base",
    "detectors.baseline",
    "detectors.campaign",
    "detectors.decision",
    "detectors.endpoint",
    "detectors.engine",
    "detectors.enumeration",
    "detectors.features",
    "detectors.horizon",
    "detectors.population",
    "detectors.replay",
    "detectors.routes",
    "detectors.stages",
    "detectors.windows",
    "stream.batches",
    "stream.decoder",
    "stream.events",
    "stream.runtime",
)
#: Modules written for Cython (``.pyx``, C code): each is the fast path of a Python module
#: that keeps the reference behaviour and is used instead without a compiler or with
#: ``SCRAPEWATCH_PURE_PYTHON=1`` (``stream.fastdecode``: ``stream.decoder.forward_batch``;
#: ``stream.fastingest``: ``stream.runtime.AccountRuntime.on_message``).
NATIVE_MODULES: tuple[str, ...] = ("stream.fastdecode", "stream.fastingest")
#: Environment variable that makes every module run from its ``.py`` source.
PURE_ENV = "SCRAPEWATCH_PURE_PYTHON"
_TRUE = ("1", "true", "yes")
_EXTENSIONS = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def pure_requested() -> bool:
    """Whether ``SCRAPEWATCH_PURE_PYTHON`` asks for pure Python."""
    return os.environ.get(PURE_ENV, "").strip().lower() in _TRUE


def _source_and_extension(
    name: str, path: Sequence[str], source_suffix: str = ".py"
) -> tuple[Path, Path | None] | None:
    leaf = name.rpartition(".")[2]
    for folder in path:
        source = Path(folder) / f"{leaf}{source_suffix}"
        if source.is_file():
            for suffix in _EXTENSIONS:
                ext = Path(folder) / f"{leaf}{suffix}"
                if ext.is_file():
                    return source, ext
            return source, None
    return None


def _stale(source: Path, extension: Path) -> bool:
    # only in a source tree (setup.py beside the package): the files of an installed wheel
    # get their times when unpacked, which say nothing about which came first
    tree = (source.parent.parent / "setup.py").is_file()
    return tree and source.stat().st_mtime > extension.stat().st_mtime


class _SourceFirst:
    """Meta-path finder: loads a compiled module from its ``.py`` when asked or stale."""

    def __init__(self, pure: bool) -> None:
        self.pure = pure
        self.stale: list[str] = []

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name in NATIVE_MODULES and path is not None:
            self._refuse_stale_native(name, path)
            return None
        if name not in COMPILED_MODULES or path is None:
            return None
        found = _source_and_extension(name, path)
        if found is None:
            return None
        source, extension = found
        if extension is None:
            return None  # nothing compiled: the normal finder loads the source anyway
        if not self.pure:
            if not _stale(source, extension):
                return None
            self.stale.append(name)
            warnings.warn(
                f"{extension.name} is older than {source.name}: running {name} from its "
                "source (slower); run `make build` to compile it again",
                RuntimeWarning,
                stacklevel=2,
            )
        return importlib.util.spec_from_file_location(name, source)

    def _refuse_stale_native(self, name: str, path: Sequence[str]) -> None:
        """A native module built before its ``.pyx`` was edited is not imported (its
        caller then runs the Python reference)."""
        found = _source_and_extension(name, path, ".pyx")
        if found is None or found[1] is None or not _stale(found[0], found[1]):
            return
        self.stale.append(name)
        warnings.warn(
            f"{found[1].name} is older than {found[0].name}: {name} is not used (the Python "
            "reference runs instead, slower); run `make build` to compile it again",
            RuntimeWarning,
            stacklevel=3,
        )
        raise ImportError(f"{name} was built before {found[0].name} was last edited")


_finder: _SourceFirst | None = None


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once; ``detectors`` does it on import)."""
    global _finder  # noqa: PLW0603  (one finder per process)
    if _finder is None:
        _finder = _SourceFirst(pure_requested())
        sys.meta_path.insert(0, _finder)


def compiled_status() -> dict[str, bool]:
    """Each module of :data:`COMPILED_MODULES` and :data:`NATIVE_MODULES` -> whether it
    runs compiled (imports them)."""
    status = {}
    for name in COMPILED_MODULES:
        module = importlib.import_module(name)
        status[name] = str(getattr(module, "__file__", "")).endswith(_EXTENSIONS)
    for name in NATIVE_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # not built, or Cython's check of the compiled classes it uses
            # failed (they run from source): it does not run, either way
            status[name] = False
        else:
            status[name] = not pure_requested()
    return status
