"""The kernels the runners call, from an ahead-of-time module when one was built, else from Numba.

Numba's on-disk cache spares a later process the compile, not Numba itself:
importing it and setting up its compiler before the first cached function
loads cost 0.6-1.3 s a process here (0.3-0.9 s of imports, including
SciPy's BLAS, and 0.5-0.9 s of registries), for every process that runs a
compiled layer. :func:`wavedil.kernels.build.compile_kernels` compiles the
same kernels once into an extension module (``numba.pycc``); a process that
finds it loads the kernels in about a millisecond and never imports Numba.

The module is found by name in :func:`kernel_directory`. Its name carries a
fingerprint (:func:`fingerprint`) of everything its machine code depends on:
the kernels' sources, the versions of Numba, NumPy and Python, and this
CPU's features. A module built from other sources, by another Numba or for
another CPU has another name and is simply not found; the kernels then come
from Numba's compiler as before.

An extension module does not check the types of what it is handed (a wrong
dtype is a crash, not an exception), so each function from it is wrapped in
a check of its arguments against :data:`EXPORTS`: each array's dtype,
number of dimensions, C order and, where the kernel writes it, writability
(about 2 us a call). Sizes are the runners' to get right, as with Numba's
compiled functions, which do not check them either.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.machinery
import importlib.metadata
import importlib.util
import operator
import os
import platform
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

_HERE = Path(__file__).parent
#: Where :func:`kernel_directory` looks first (a folder).
DIRECTORY_VARIABLE = "WAVEDIL_KERNELS_DIR"
#: The module's checksum sits beside it, in a file named after it with this suffix (its SHA-256, in hex).
CHECKSUM_SUFFIX = ".sha256"

#: Every kernel a runner calls, by ``module.function``: its argument types and the dtypes it runs in.
#: Argument codes: ``n`` an int64, ``?`` a bool; ``F<k>`` a C-ordered array of the dtype with k
#: dimensions, ``I<k>`` the same of int64, ``D<k>`` of float64; a trailing ``w`` marks an array the
#: kernel writes (it must be writable).
EXPORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "wavenet.array_block": ("n ? F3 F3 F2 I2 F1 I1 F1w F2w F3w F3w n I1 I1 F1 F1w", ("float32", "float64")),
    "lstm.rational_layer": ("F3 F2 F1 F2 F2w F2w F3w", ("float32",)),
    "lstm.fast_layer": ("F3 F2 F1 F2 F2w F2w F3w", ("float32", "float64")),
    "lstm.libm_layer": ("F3 F2 F1 F2 F2w F2w F3w", ("float64",)),
    "conv.conv": ("F1 n n F1w n n n F1w I1w F3 F1 n n D1", ("float32", "float64")),
    "conv.mono_chain": ("F1 n F1w n n F1w I1 I2w F4 I1 I1 F1 I1 D2 F1w", ("float32", "float64")),
}


def argument(code: str) -> tuple[str, int, bool]:
    """An argument code of :data:`EXPORTS` read: its kind (``n``, ``?``, ``F``, ``I``, ``D``), dimensions and whether it is written.

    >>> argument("F3w"), argument("n")
    (('F', 3, True), ('n', 0, False))
    """
    if code in ("n", "?"):
        return code, 0, False
    return code[0], int(code[1:].rstrip("w")), code.endswith("w")


def symbol(name: str, dtype: str) -> str:
    """The name of kernel ``name`` in ``dtype`` inside the ahead-of-time module: ``wavenet_array_block_float32``."""
    return f"{name.replace('.', '_')}_{dtype}"


def kernel_directory() -> Path:
    """The folder of ahead-of-time modules: ``$WAVEDIL_KERNELS_DIR``, else ``$XDG_CACHE_HOME/wavedil``, else ``~/.cache/wavedil``."""
    named = os.environ.get(DIRECTORY_VARIABLE)
    if named:
        return Path(named)
    cache = os.environ.get("XDG_CACHE_HOME")
    return (Path(cache) if cache else Path.home() / ".cache") / "wavedil"


def _cpu_features() -> list[str]:
    try:
        from numpy._core._multiarray_umath import __cpu_features__  # NumPy 2
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_features__
    return sorted(name for name, present in __cpu_features__.items() if present)


@functools.cache
def fingerprint() -> str | None:
    """A hash of what an ahead-of-time module's machine code depends on; None without Numba or the kernels' sources.

    The kernels' sources (every ``.py`` of this package), the versions of
    Numba, NumPy and Python, the machine and the CPU features NumPy detects.
    """
    try:
        numba_version = importlib.metadata.version("numba")
    except importlib.metadata.PackageNotFoundError:
        return None
    sources = sorted(_HERE.glob("*.py"))
    if not sources:  # an install without its sources: nothing to tell one build from another
        return None
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    context = [numba_version, np.__version__, sys.version, sys.implementation.cache_tag or "", platform.machine(), *_cpu_features()]
    digest.update("\0".join(context).encode())
    return digest.hexdigest()[:20]


def module_name() -> str | None:
    """The ahead-of-time module's name for this machine and these sources, or None without Numba."""
    fp = fingerprint()
    return None if fp is None else f"wavedil_kernels_{fp}"


def module_path(directory: Path | None = None) -> Path | None:
    """Where the ahead-of-time module for this machine and these sources is (or would be) in ``directory``."""
    name = module_name()
    if name is None:
        return None
    return (kernel_directory() if directory is None else directory) / (name + importlib.machinery.EXTENSION_SUFFIXES[0])


def _trusted(path: Path) -> bool:
    """Whether ``path`` is a regular file that only its owner (this user or root) could have put there.

    A module is code this process runs: not from a file or folder that
    anyone may write (``o+w`` without the sticky bit), nor from a file of
    another user. Not checked where there are no owners (Windows).
    """
    if not path.is_file():
        return False
    if not hasattr(os, "geteuid"):
        return True
    info, folder = path.stat(), path.parent.stat()
    if info.st_uid not in (os.geteuid(), 0) or info.st_mode & stat.S_IWOTH:
        return False
    return not (folder.st_mode & stat.S_IWOTH and not folder.st_mode & stat.S_ISVTX)


@functools.cache
def ahead_of_time() -> ModuleType | None:
    """The ahead-of-time module for this machine and these sources, loaded; None when there is none.

    Loaded only when it is a regular file (:func:`_trusted`), its bytes match
    the checksum written beside it (a file cut short by a full disk or an
    interrupted copy would crash the process that loads it, not raise) and
    it holds every kernel of :data:`EXPORTS`. Otherwise it counts as absent:
    the kernels then come from Numba's compiler.
    """
    path = module_path()
    if path is None:
        return None
    checksum = path.with_name(path.name + CHECKSUM_SUFFIX)
    try:
        if not _trusted(path) or not checksum.is_file():
            return None
        if hashlib.sha256(path.read_bytes()).hexdigest() != checksum.read_text(encoding="ascii").strip():
            return None
        spec = importlib.util.spec_from_file_location(path.name.split(".")[0], path)
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except (ImportError, OSError, UnicodeDecodeError):
        return None
    if not all(hasattr(module, symbol(name, dtype)) for name, (_, dtypes) in EXPORTS.items() for dtype in dtypes):
        return None
    return module


@dataclass(frozen=True)
class _Checked:
    """A function of the ahead-of-time module behind a check of its arguments (see the module docstring)."""

    name: str
    dtype: str
    function: Callable[..., Any]
    arrays: tuple[tuple[int, np.dtype, int, bool], ...]
    integers: tuple[int, ...]
    count: int

    def __call__(self, *args: Any) -> Any:
        if len(args) != self.count:
            raise TypeError(f"kernel {self.name} takes {self.count} arguments, got {len(args)}")
        for i, dtype, ndim, written in self.arrays:
            a = args[i]
            if type(a) is not np.ndarray or a.dtype != dtype or a.ndim != ndim or not a.flags.c_contiguous or (written and not a.flags.writeable):
                kind = "writable C-ordered" if written else "C-ordered"
                raise TypeError(f"kernel {self.name}: argument {i} must be a {kind} {dtype} array of {ndim} dimensions")
        for i in self.integers:
            operator.index(args[i])
        return self.function(*args)

    def __reduce__(self) -> tuple[Any, ...]:
        # The module's functions do not pickle: the receiving process looks the kernel up again.
        return kernel, (self.name, self.dtype)


def _checked(name: str, dtype: str, function: Callable[..., Any]) -> _Checked:
    args = [argument(code) for code in EXPORTS[name][0].split()]
    kinds = {"F": np.dtype(dtype), "I": np.dtype(np.int64), "D": np.dtype(np.float64)}
    arrays = tuple((i, kinds[kind], ndim, written) for i, (kind, ndim, written) in enumerate(args) if kind in kinds)
    integers = tuple(i for i, (kind, _, _) in enumerate(args) if kind == "n")
    return _Checked(name, dtype, function, arrays, integers, len(args))


def kernel(name: str, dtype: np.dtype | str) -> Callable[..., Any]:
    """Kernel ``name`` (a key of :data:`EXPORTS`) for arrays of ``dtype``.

    From the ahead-of-time module when it holds it, else Numba's compiled
    function (which imports Numba, and compiles or loads it from Numba's
    cache on first call).
    """
    dtype = np.dtype(dtype).name
    module = ahead_of_time()
    function = getattr(module, symbol(name, dtype), None) if module is not None else None
    if function is not None:
        return _checked(name, dtype, function)
    package, attribute = name.split(".")
    return getattr(importlib.import_module(f"{__package__}.{package}"), attribute)  # type: ignore[no-any-return]


def source(name: str, dtype: np.dtype | str) -> str:
    """Where :func:`kernel` takes ``name`` in ``dtype`` from: ``"ahead-of-time"`` or ``"numba-jit"``."""
    module = ahead_of_time()
    present = module is not None and hasattr(module, symbol(name, np.dtype(dtype).name))
    return "ahead-of-time" if present else "numba-jit"
