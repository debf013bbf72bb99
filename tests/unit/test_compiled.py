"""The Cython-compiled hot path: built where it can be, identical to the source, switchable.

``setup.py`` compiles the modules of ``detectors.compiled.COMPILED_MODULES`` from their
unchanged ``.py`` files. These tests check what a user relies on: the install really
compiled them (where Cython and a C compiler exist), ``SCRAPEWATCH_PURE_PYTHON=1`` really
runs the source, both give byte-identical alerts, and an extension older than its edited
source is not run.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from detectors import compiled

STATUS = (
    "import json; from detectors.compiled import compiled_status; "
    "print(json.dumps(compiled_status()))"
)


def _status(pure: bool) -> dict[str, bool]:
    env = {**os.environ, compiled.PURE_ENV: "1" if pure else ""}
    out = subprocess.run(
        [sys.executable, "-c", STATUS], capture_output=True, text=True, check=True, env=env
    ).stdout
    return dict(json.loads(out))


def _buildable() -> bool:
    try:
        import Cython  # noqa: F401
    except ImportError:
        return False
    return shutil.which("cc") is not None or shutil.which("gcc") is not None


def test_every_hot_path_module_runs_compiled_where_it_can_be_built() -> None:
    status = _status(pure=False)
    assert set(status) == set(compiled.COMPILED_MODULES + compiled.NATIVE_MODULES)
    if _buildable():
        assert [name for name, done in status.items() if not done] == [], (
            "modules not compiled: run `make build` and read .cache/build.log"
        )
    else:  # no Cython or no C compiler: the documented fallback, every module from source
        assert not any(status.values())


def test_pure_python_switch_runs_every_module_from_source() -> None:
    every = compiled.COMPILED_MODULES + compiled.NATIVE_MODULES
    assert _status(pure=True) == dict.fromkeys(every, False)


def test_compiled_and_pure_replays_write_identical_alerts(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    cli = [sys.executable, "-m", "stream.cli"]
    subprocess.run(
        [*cli, "simulate", "--out", str(events), "--hours", "1.5", "--benign-accounts", "400"],
        check=True,
        capture_output=True,
    )
    outputs = []
    for pure in (False, True):
        out = tmp_path / f"alerts-{pure}.jsonl"
        env = {**os.environ, compiled.PURE_ENV: "1" if pure else ""}
        subprocess.run(
            [*cli, "replay", str(events), "--out", str(out), "--quiet", "--partitions", "2"],
            check=True,
            capture_output=True,
            env=env,
        )
        outputs.append(out.read_bytes())
    assert outputs[0].count(b"\n") > 5, "too few alerts to compare"
    assert outputs[0] == outputs[1]


def test_an_extension_older_than_its_edited_source_is_not_run(tmp_path: Path) -> None:
    folder = tmp_path / "detectors"
    folder.mkdir()
    source = folder / "windows.py"
    extension = folder / f"windows{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    extension.write_bytes(b"not loaded")
    (tmp_path / "setup.py").write_text("# a source tree\n")
    time.sleep(0.01)
    source.write_text("X = 1\n")
    os.utime(extension, (1_000_000, 1_000_000))  # built long before the edit

    finder = compiled._SourceFirst(pure=False)
    with pytest.warns(RuntimeWarning, match="run `make build`"):
        spec = finder.find_spec("detectors.windows", [str(folder)])
    assert spec is not None and spec.origin == str(source)
    assert finder.stale == ["detectors.windows"]

    os.utime(extension)  # rebuilt after the edit: the normal import system loads it
    assert compiled._SourceFirst(pure=False).find_spec("detectors.windows", [str(folder)]) is None
    # an installed package has no setup.py above it: file times are not evidence there
    (tmp_path / "setup.py").unlink()
    os.utime(extension, (1_000_000, 1_000_000))
    assert compiled._SourceFirst(pure=False).find_spec("detectors.windows", [str(folder)]) is None
    # a module outside the compiled list is never touched
    assert compiled._SourceFirst(pure=True).find_spec("detectors.config", [str(folder)]) is None


def test_a_native_module_older_than_its_edited_pyx_is_not_imported(tmp_path: Path) -> None:
    folder = tmp_path / "stream"
    folder.mkdir()
    source = folder / "fastdecode.pyx"
    extension = folder / f"fastdecode{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    extension.write_bytes(b"not loaded")
    (tmp_path / "setup.py").write_text("# a source tree\n")
    source.write_text("# edited\n")
    os.utime(extension, (1_000_000, 1_000_000))  # built long before the edit

    finder = compiled._SourceFirst(pure=False)
    with (
        pytest.warns(RuntimeWarning, match="the Python reference runs instead"),
        pytest.raises(ImportError, match=r"built before fastdecode\.pyx"),
    ):
        finder.find_spec("stream.fastdecode", [str(folder)])
    assert finder.stale == ["stream.fastdecode"]
    os.utime(extension)  # rebuilt: the normal import system loads it
    assert compiled._SourceFirst(pure=False).find_spec("stream.fastdecode", [str(folder)]) is None
