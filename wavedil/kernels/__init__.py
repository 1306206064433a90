"""Compiled kernels (Numba): the ``numba`` engine's forward passes.

Each kernel compiles on first use and caches the machine code on disk
(``cache=True``), so a later process loads it instead of compiling; or it
comes from the module ``wavedil compile`` built ahead of time. Runners take
their kernels through :mod:`wavedil.kernels.exports`, which imports Numba
only when there is no such module. Importing a kernel module (``tanh``,
``activations``, ``wavenet``, ``conv``, ``lstm``) imports Numba;
:mod:`~wavedil.kernels.codes`, :mod:`~wavedil.kernels.exports` and
:mod:`~wavedil.kernels.build` (until it compiles) do not. Kernels are
single-threaded; parallelism stays with worker processes and segments.

Numba keys a kernel's cache by its own file only, while the kernels inline
one another (``tanh.py`` into all of them). Importing this package therefore
stamps the kernels' cache folder with a hash of every kernel source and
empties it when the sources changed (a ``git pull`` that touches only
``tanh.py``), so no stale machine code runs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_HERE = Path(__file__).parent
_STAMP = "wavedil-kernels.sha256"


def refresh_cache(cache: Path, sources: list[Path]) -> bool:
    """Empty ``cache`` of Numba's files (``*.nbi``, ``*.nbc``) unless its stamp matches ``sources``; True when emptied.

    A folder that cannot be written is left alone (Numba then caches
    elsewhere, or not at all).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "k.py").write_text("x = 1")
    5
    >>> refresh_cache(folder, [folder / "k.py"]), refresh_cache(folder, [folder / "k.py"])
    (True, False)
    """
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(sources))).hexdigest()
    stamp = cache / _STAMP
    try:
        if stamp.exists() and stamp.read_text() == digest:
            return False
        for path in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
            path.unlink()
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest)
    except OSError:
        return False
    return True


refresh_cache(_HERE / "__pycache__", sorted(_HERE.glob("*.py")))
