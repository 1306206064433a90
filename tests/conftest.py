"""Run this process's BLAS as the command line runs its own: on one thread.

Tests compare arrays filtered here with the same arrays filtered on worker
processes, bit for bit, and a BLAS's results can depend on its thread count.
Importing :mod:`wavedil.cli` before NumPy loads sets the workers' count.
"""

import sys

if "numpy" in sys.modules:  # a plugin loaded it first: the setting would not take
    raise RuntimeError("NumPy was imported before tests/conftest.py; its BLAS threads can no longer be set")

import wavedil.cli  # noqa: E402, F401
