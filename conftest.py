"""Collection rules for ``pytest --doctest-modules``.

The compiled kernels (``wavedil/kernels``) import Numba, an optional extra:
without it their modules are not imported for doctests (the engine falls back
to NumPy, and the tests that compare the engines skip the compiled side). The
scripts that made the committed fixtures (``tests/fixtures``) are not tests:
they import what made them (NAM's PyTorch code), which a test run may lack.
"""

import importlib.util

collect_ignore_glob = ["tests/fixtures/*"] + ([] if importlib.util.find_spec("numba") else ["wavedil/kernels/*"])
