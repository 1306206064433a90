"""A spec WaveNet's side weight file: a ``.npz`` holding one array, ``weights``, read with every size checked first.

``weights = "net.npz"`` in a spec names such a file (beside the spec unless
absolute). It holds the flat vector of NAM's layout (see
:mod:`wavedil.models.wavenet_flat`), of any shape, as integers or floats, at
most :data:`~wavedil.limits.MAX_NPZ_BYTES` uncompressed.
"""

from __future__ import annotations

import math
import stat
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from .errors import SpecError
from .limits import MAX_NPZ_BYTES


def _npy_header(member: IO[bytes]) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the header of a ``.npy`` stream (read with NumPy's own header parser)."""
    version = np.lib.format.read_magic(member)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(member, max_header_size=10_000)
    return tuple(int(n) for n in shape), np.dtype(dtype)


def _check_file(path: Path) -> None:
    # Opening a FIFO would block, a device would read without end: stat first.
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        raise SpecError(f"{path}: is a directory, not a .npz file")
    if not stat.S_ISREG(mode):
        raise SpecError(f"{path}: is not a regular file (a FIFO, socket or device), not a .npz file")


def _check_member(path: Path, expected: int) -> None:
    """Refuse, before anything is allocated, an archive that is not one ``weights`` array of ``expected`` numbers."""
    with zipfile.ZipFile(path) as zf:
        try:
            info = zf.getinfo("weights.npy")
        except KeyError:
            raise SpecError(f"{path}: has no array named 'weights'") from None
        # np.load would read another member named 'weights' in its place: one member, the checked one.
        others = sorted(set(zf.namelist()) - {"weights.npy"}) or (["weights.npy"] if len(zf.namelist()) > 1 else [])
        if others:
            raise SpecError(f"{path}: holds {others[0]!r} besides one 'weights.npy'; a weights file holds that array only")
        if info.file_size > MAX_NPZ_BYTES:
            raise SpecError(f"{path}: 'weights' is {info.file_size} bytes, over the limit of {MAX_NPZ_BYTES}")
        # The array's own header says what np.load would allocate.
        with zf.open(info) as member:
            shape, dtype = _npy_header(member)
    if dtype.kind not in "fiu" or dtype.hasobject or math.prod(shape) != expected:
        raise SpecError(f"{path}: 'weights' holds {math.prod(shape)} {dtype} values, expected {expected} numbers")


def load_npz_weights(path: Path, expected: int) -> np.ndarray:
    """The ``weights`` array of the ``.npz`` file at ``path``, flattened to ``expected`` float64 numbers.

    Raises
    ------
    SpecError
        Naming the file in its message: missing, not a regular file, not a
        readable archive, another member besides ``weights.npy``, over the
        size limit, of another length or kind, or with non-finite numbers.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     np.savez(f"{tmp}/w.npz", weights=np.arange(3.0))
    ...     load_npz_weights(Path(tmp) / "w.npz", 3).tolist()
    [0.0, 1.0, 2.0]
    """
    try:
        _check_file(path)
        _check_member(path, expected)
        with np.load(path, allow_pickle=False) as npz:
            flat = np.asarray(npz["weights"], dtype=np.float64).ravel()
    except SpecError:
        raise
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise SpecError(f"{path}: not a readable .npz file ({exc})") from None
    if not np.all(np.isfinite(flat)):
        raise SpecError(f"{path}: weights must be finite numbers")
    return flat
