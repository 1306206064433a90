"""Collection rules for ``pytest --doctest-modules``.

The compiled kernels (``wavedil/kernels``) import Numba, an optional extra:
without it their modules are not imported for doctests (the engine falls back
to NumPy, and the tests that compare the engines skip the compiled side).
"""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("numba") else ["wavedil/kernels/*"]
