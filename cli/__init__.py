"""The click command-line layer of wavedil (installed as ``wavedil.cli``).

Each command is a module of its own; all of them parse options, call the
library and format its results. No numerics live here.

Importing this package sets BLAS to one thread for this process, before
NumPy is loaded (importing :mod:`wavedil` does not load it). The command's
parallelism is worker processes, each with one BLAS thread, and a BLAS's
results can depend on its thread count: with the same setting here, a file
run in this process and the same file run in segments on workers agree bit
for bit.
"""

import os
import sys

from wavedil.workers import THREAD_VARIABLES

if "numpy" not in sys.modules:
    os.environ.update({name: "1" for name in THREAD_VARIABLES})
