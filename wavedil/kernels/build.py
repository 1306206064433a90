"""Compile the kernels ahead of time into an extension module (see :mod:`wavedil.kernels.exports`).

``numba.pycc`` compiles each kernel of :data:`~wavedil.kernels.exports.EXPORTS`
for this machine's CPU, with the same code and options as the just-in-time
path, into one module that needs only NumPy to load. It needs Numba,
setuptools and a C compiler (which links the module), here and only here.
Numba marks ``pycc`` as pending deprecation (since 0.57) while its
successor is developed; when it goes, this build fails with one line and the
kernels keep coming from Numba's compiler.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import KernelBuildError, UsageError, WavedilError
from . import exports

#: The dtypes a build covers unless told otherwise.
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class Built:
    """An ahead-of-time module that was compiled: its file, the kernels in it, the seconds and bytes it took."""

    path: Path
    kernels: tuple[str, ...]
    seconds: float
    size: int


def _numba_type(code: str, dtype: str):  # type: ignore[no-untyped-def]
    from numba import types

    scalar = {"F": getattr(types, dtype), "I": types.int64, "D": types.float64}
    if code == "n":
        return types.int64
    if code == "?":
        return types.boolean
    return types.Array(scalar[code[0]], int(code[1:]), "C")


def compile_kernels(directory: str | os.PathLike[str] | None = None, dtypes: Sequence[str] = DTYPES) -> Built:
    """Compile every kernel for ``dtypes`` into the ahead-of-time module of this machine, in ``directory``.

    Parameters
    ----------
    directory : path, optional
        The folder (made if missing); default :func:`wavedil.kernels.exports.kernel_directory`.
        Processes find the module there when ``$WAVEDIL_KERNELS_DIR`` (or the
        default) names the same folder.
    dtypes : sequence of str
        ``"float32"`` (wavedil's default precision), ``"float64"``, or both.

    Returns
    -------
    Built
        The module's path, the kernels in it (``name:dtype``), the seconds the
        compile took and the module's size in bytes. The module is written
        beside its place and renamed into it, so a process never loads half
        a file; a module already there for these sources is replaced.

    Raises
    ------
    UsageError
        For a dtype other than float32 and float64.
    KernelBuildError
        Without Numba, setuptools or a C compiler, or when ``directory`` cannot be written.

    Examples
    --------
    >>> built = compile_kernels("/tmp/kernels", dtypes=["float32"])  # doctest: +SKIP
    >>> built.path.name  # doctest: +SKIP
    'wavedil_kernels_3f9c....cpython-311-x86_64-linux-gnu.so'
    """
    for dtype in dtypes:
        if dtype not in DTYPES:
            raise UsageError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    name = exports.module_name()
    if name is None:
        raise KernelBuildError('compiling the kernels needs numba (pip install "wavedil[fast]")')
    target = Path(directory) if directory is not None else exports.kernel_directory()
    if target.exists() and not target.is_dir():
        raise KernelBuildError(f"{target}: not a folder")
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pycc's pending deprecation: the module docstring says what then
            from numba.pycc import CC
    except ImportError as exc:
        raise KernelBuildError(f"compiling the kernels needs numba.pycc and setuptools ({exc})") from None
    from numba import types

    exported = []
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    try:
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target, prefix=".wavedil-kernels-") as tmp:
            cc = CC(name)
            cc.output_dir = tmp
            cc.output_file = name + suffix
            # The machine code is for this CPU, as Numba's own compiler makes it; the fingerprint in the
            # module's name keeps another CPU from finding it.
            cc.target_cpu = "host"
            for kernel, (codes, variants) in exports.EXPORTS.items():
                module, function = kernel.split(".")
                py_func = getattr(importlib.import_module(f"{exports.__package__}.{module}"), function).py_func
                for dtype in variants:
                    if dtype not in dtypes:
                        continue
                    signature = types.void(*(_numba_type(code, dtype) for code in codes.split()))
                    cc.export(exports.symbol(kernel, dtype), signature)(py_func)
                    exported.append(f"{kernel}:{dtype}")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cc.compile()
            final = target / (name + suffix)
            os.replace(Path(tmp) / (name + suffix), final)
    except WavedilError:
        raise
    except Exception as exc:  # a compiler missing or failing, a folder that cannot be written: one line
        raise KernelBuildError(f"{target}: compiling the kernels failed ({type(exc).__name__}: {exc})") from None
    exports.ahead_of_time.cache_clear()
    return Built(final, tuple(exported), time.perf_counter() - start, final.stat().st_size)
