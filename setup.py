"""Build step: compile the hot-path modules with Cython (optional; pure Python otherwise).

Everything else about the package is in ``pyproject.toml``. The modules below are plain
Python, unchanged: Cython compiles the same ``.py`` files to C extensions that Python
imports ahead of the source, which takes a third off the per-event and per-window cost
(README, Performance). When Cython or a C compiler is missing, or
``SCRAPEWATCH_PURE_PYTHON=1`` is set at install time, the package installs as pure Python
and behaves the same, only slower (``scrapewatch bench`` says which it ran).
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup

# the modules every event or every window goes through (see detectors/compiled.py)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from detectors.compiled import COMPILED_MODULES, NATIVE_MODULES, pure_requested

ext_modules: list[Extension] = []
if not pure_requested():
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("scrapewatch: Cython not found, installing pure Python", file=sys.stderr)
    else:
        ext_modules = cythonize(
            [
                # optional: a failed compile leaves that module in pure Python, not a failed
                # install (a machine without a C compiler still gets a working scrapewatch)
                Extension(name, [name.replace(".", "/") + ".py"], optional=True)
                for name in COMPILED_MODULES
            ]
            + [
                # written for Cython (C code with no Python twin): the reference it must
                # agree with is the Python module that calls it
                Extension(name, [name.replace(".", "/") + ".pyx"], optional=True)
                for name in NATIVE_MODULES
            ],
            compiler_directives={
                "language_level": 3,
                # the same semantics as CPython: these modules must behave identically
                # compiled or not (tests/unit/test_compiled.py), so type annotations are
                # left to mypy (Cython would turn `x: float` into a C double, and an int
                # argument into a float); C types come only from the .pxd files beside a
                # few modules, written for that purpose
                "annotation_typing": False,
                "binding": True,
            },
            quiet=True,
            nthreads=os.cpu_count() or 1,
        )

# compile the C files in parallel (about a minute on two cores instead of two)
setup(ext_modules=ext_modules, options={"build_ext": {"parallel": os.cpu_count() or 1}})
