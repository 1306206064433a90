"""Compile the kernels ahead of time into an extension module (see :mod:`wavedil.kernels.exports`).

``numba.pycc`` compiles each kernel of :data:`~wavedil.kernels.exports.EXPORTS`
for this machine's CPU into one module that needs only NumPy to load. It
needs Numba, setuptools, the Python headers and a C compiler (which links
the module), here and only here. Numba marks ``pycc`` as pending deprecation
(since 0.57) while its successor is developed; when it goes, this build
fails with one line and the kernels keep coming from Numba's compiler.

The compile runs in a fresh Python process (``python -m
wavedil.kernels.build FOLDER``), for three reasons: the code it compiles is
the code on disk that the module's name fingerprints (not modules an earlier
import left in memory); its compiler's temporary files and chatter stay in
a folder that is removed afterwards, whatever happens; and a failure is
reported as one line.

Each kernel is compiled with its own ``@njit`` options (``error_model``,
``fastmath``), as Numba's just-in-time compiler does: ``pycc`` alone would
compile every export with Numba's defaults.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..errors import KernelBuildError
from . import exports

_RESULT = "result.json"
#: A build's temporary folder in the target, and the age after which a folder left by a killed build is removed.
_WORK_PREFIX, _ABANDONED_AFTER = ".wavedil-kernels-", 3600.0


@dataclass(frozen=True)
class Built:
    """An ahead-of-time module that was compiled: its file, the kernels in it, the seconds and bytes it took."""

    path: Path
    kernels: tuple[str, ...]
    seconds: float
    size: int


def compile_kernels(directory: str | os.PathLike[str] | None = None) -> Built:
    """Compile every kernel, in float32 and float64, into the ahead-of-time module of this machine, in ``directory``.

    Parameters
    ----------
    directory : path, optional
        The folder (made if missing); default :func:`wavedil.kernels.exports.kernel_directory`
        (``$WAVEDIL_KERNELS_DIR``, else ``$XDG_CACHE_HOME/wavedil``, else
        ``~/.cache/wavedil``). Processes find the module where that
        variable points.

    Returns
    -------
    Built
        The module's absolute path, the kernels in it (``name:dtype``), the
        seconds the compile took and the module's size in bytes. The module
        and its checksum are written beside their places and renamed into
        them, so a process never loads half a file; a module already there
        for these sources is replaced.

    Raises
    ------
    KernelBuildError
        Without Numba, setuptools, the Python headers or a C compiler; when
        ``directory`` is not a folder or cannot be written.

    Examples
    --------
    >>> built = compile_kernels("/tmp/kernels")  # doctest: +SKIP
    >>> built.path.name, len(built.kernels)  # doctest: +SKIP
    ('wavedil_kernels_3f9c....cpython-311-x86_64-linux-gnu.so', 10)
    """
    if directory is not None and not os.fspath(directory):
        raise KernelBuildError("the folder for the kernels is an empty path")
    target = (Path(directory) if directory is not None else exports.kernel_directory()).absolute()
    if exports.module_name() is None:
        raise KernelBuildError('compiling the kernels needs numba (pip install "wavedil[fast]")')
    if target.exists() and not target.is_dir():
        raise KernelBuildError(f"{target}: not a folder")
    start = time.perf_counter()
    try:
        target.mkdir(parents=True, exist_ok=True)
        remove_abandoned(target)
        with tempfile.TemporaryDirectory(dir=target, prefix=_WORK_PREFIX) as tmp:
            work = Path(tmp)
            (work / "tmp").mkdir()
            # The compiler's scratch (pycc's own temporary folder) and Numba's cache live inside
            # ``work``: nothing is left behind, and no cached code from another build is reused.
            env = {**os.environ, "TMPDIR": str(work / "tmp"), "NUMBA_CACHE_DIR": str(work / "numba-cache")}
            proc = subprocess.run(
                [sys.executable, "-m", __name__, str(work)], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL
            )
            result = json.loads((work / _RESULT).read_text()) if (work / _RESULT).is_file() else {}
            if proc.returncode != 0 or "error" in result or "name" not in result:
                raise KernelBuildError(f"{target}: compiling the kernels failed ({_reason(result, proc)})")
            name = result["name"] + importlib.machinery.EXTENSION_SUFFIXES[0]
            built, final = work / name, target / name
            checksum = work / (name + exports.CHECKSUM_SUFFIX)
            checksum.write_text(hashlib.sha256(built.read_bytes()).hexdigest())
            os.replace(built, final)
            os.replace(checksum, target / checksum.name)
    except OSError as exc:
        raise KernelBuildError(f"{target}: {exc.strerror or exc}") from None
    exports.ahead_of_time.cache_clear()
    return Built(final, tuple(result["kernels"]), time.perf_counter() - start, final.stat().st_size)


def remove_abandoned(target: Path, now: float | None = None) -> list[Path]:
    """Remove the temporary folders of builds killed in ``target`` (kill -9 skips every cleanup); returns them.

    Only folders older than an hour: a build running now takes a minute or two.
    """
    now = time.time() if now is None else now
    removed = []
    for folder in target.glob(_WORK_PREFIX + "*"):
        if folder.is_dir() and not folder.is_symlink() and now - folder.stat().st_mtime > _ABANDONED_AFTER:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _reason(result: dict, proc: subprocess.CompletedProcess[str]) -> str:
    """One line on why the build process failed: its own summary, and the compiler's last word."""
    reason = str(result.get("error") or f"the build process exited with {proc.returncode}")
    lines = [line.strip() for line in (proc.stderr or "").splitlines() if line.strip()]
    if lines and lines[-1] not in reason and not lines[-1].startswith(("Traceback", "File ")):
        reason += f"; {lines[-1]}"
    return reason[:400]


def _build(work: Path) -> dict:
    """The build process: compile every export into ``work``; returns its name and kernels."""
    name = exports.module_name()
    if name is None:
        raise KernelBuildError("numba is not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycc's pending deprecation: the module docstring says what then
        import numba.pycc.compiler as pycc_compiler
        from numba import types
        from numba.pycc import CC

    dispatchers = {}
    cc = CC(name)
    cc.output_dir = str(work)
    cc.output_file = name + importlib.machinery.EXTENSION_SUFFIXES[0]
    # Machine code for this CPU, as Numba's own compiler makes it; the fingerprint in the module's
    # name keeps another CPU from finding it.
    cc.target_cpu = "host"
    kernels = []
    for kernel, (codes, dtypes) in exports.EXPORTS.items():
        module, function = kernel.split(".")
        dispatcher = getattr(importlib.import_module(f"{exports.__package__}.{module}"), function)
        dispatchers[dispatcher.py_func] = dispatcher
        for dtype in dtypes:
            signature = types.void(*(_numba_type(code, dtype) for code in codes.split()))
            cc.export(exports.symbol(kernel, dtype), signature)(dispatcher.py_func)
            kernels.append(f"{kernel}:{dtype}")

    plain = pycc_compiler.compile_extra

    def with_own_options(typingctx, targetctx, func, args, return_type, flags, *rest, **kwargs):  # type: ignore[no-untyped-def]
        # The kernel's @njit options on pycc's flags, as the JIT dispatcher applies them.
        dispatcher = dispatchers[func]
        flags = dispatcher.targetdescr.options.parse_as_flags(flags.copy(), dispatcher.targetoptions)
        return plain(typingctx, targetctx, func, args, return_type, flags, *rest, **kwargs)

    pycc_compiler.compile_extra = with_own_options
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cc.compile()
    return {"name": name, "kernels": kernels}


def _numba_type(code: str, dtype: str):  # type: ignore[no-untyped-def]
    from numba import types

    kind, ndim, _ = exports.argument(code)
    if kind == "n":
        return types.int64
    if kind == "?":
        return types.boolean
    scalar = {"F": getattr(types, dtype), "I": types.int64, "D": types.float64}[kind]
    return types.Array(scalar, ndim, "C")


def _main(argv: list[str]) -> int:
    work = Path(argv[0])
    try:
        result = _build(work)
    except BaseException as exc:  # noqa: BLE001 - any failure becomes the parent's one line
        # The first sentence of the first line (pycc's own errors go on to advice for conda users).
        first = (str(exc).strip().splitlines() or [""])[0].split(". ")[0].rstrip(".")
        result = {"error": f"{type(exc).__name__}: {first}" if first else type(exc).__name__}
    (work / _RESULT).write_text(json.dumps(result))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
