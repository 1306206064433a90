"""Compiled kernels of the plain dilated convolution (:mod:`wavedil.conv`).

``y[t] = act(b + sum_j W_j @ x[t - j*d])`` over a block, in tiles of
:data:`~wavedil.kernels.codes.CONV_TILE` samples: each output row of a tile is written once by a pass
that adds the bias and the first two taps, then by one pass per further tap
and input channel, and the activation runs on the tile while it is still in
the L1 cache. Nothing block-long is allocated.

**History as a ring.** A layer keeps the last ``h = (k-1)*d`` samples of its
input in a ring of ``h`` samples per channel: ``ring[(pos + i) % h]`` is
the sample ``h - i`` steps before the block. A tap that reaches back past the
block's start reads at most two contiguous pieces of the ring, and after the
block only the block's own samples are written into it (``min(n, h)``), so
the cost of a block does not grow with the dilation. (A linear history
shifted by ``n`` per block costs ``h`` copies per block: at dilation 2**20 in
blocks of 4096 samples, 256 copies per output sample.)

**Fused mono chains.** :func:`mono_chain` runs consecutive mono layers over
one tile after another: a tile passes through every layer while it is in the
cache, so a deep mono stack reads and writes its block once instead of once
per layer.

Flat arrays. The engine hands over (batch, channels, n) views whose rows are
contiguous but not adjacent; Numba vectorizes only arrays it knows to be
contiguous, so the kernels take each array as one flat contiguous view plus
the row strides in elements (see :func:`wavedil.conv.flat_rows`).

Activations computed in the kernel are numbered by :data:`wavedil.kernels.codes.ACTIVATION_CODES`; any other
is applied afterwards by NumPy, in place.
"""

from __future__ import annotations

import numba

from .activations import activate_row
from .codes import CONV_TILE as TILE

_JIT = {"cache": True, "error_model": "numpy"}


# The loops below run over views from index 0: with an index known to be non-negative Numba
# drops its negative-index wraparound, which otherwise keeps the loop from vectorizing
# (measured: 1.9 ns per element against 0.1).


@numba.njit(**_JIT)
def _one(dst, do, a, ao, wa, b, m):  # type: ignore[no-untyped-def]
    """``dst[do+i] = b + wa*a[ao+i]`` for ``i < m``."""
    dv, av = dst[do : do + m], a[ao : ao + m]
    for i in range(m):
        dv[i] = b + wa * av[i]


@numba.njit(**_JIT)
def _two(dst, do, a, ao, wa, p, po, wp, b, lo, hi):  # type: ignore[no-untyped-def]
    """``dst[do+i] = b + wa*a[ao+i] + wp*p[po+i]`` for ``lo <= i < hi``."""
    if hi <= lo:
        return
    n = hi - lo
    dv, av, pv = dst[do + lo : do + hi], a[ao + lo : ao + hi], p[po + lo : po + hi]
    for i in range(n):
        dv[i] = b + wa * av[i] + wp * pv[i]


@numba.njit(**_JIT)
def _add(dst, do, p, po, w, lo, hi):  # type: ignore[no-untyped-def]
    """``dst[do+i] += w*p[po+i]`` for ``lo <= i < hi``."""
    if hi <= lo:
        return
    n = hi - lo
    dv, pv = dst[do + lo : do + hi], p[po + lo : po + hi]
    for i in range(n):
        dv[i] += w * pv[i]


@numba.njit(**_JIT)
def _first_pass(dst, do, m, x, xo, s0, w0, ring, ro, h, pos, lag, w1, b):  # type: ignore[no-untyped-def]
    """``dst = b + w0*x[t] + w1*x[t - lag]`` over outputs ``t = s0 .. s0+m-1``.

    The past before the block comes from the ring ``ring[ro:ro+h]``, oldest at ``pos``.
    """
    nr = min(m, lag - s0)
    if nr > 0:
        idx = (pos + h + s0 - lag) % h
        first = min(nr, h - idx)
        _two(dst, do, x, xo + s0, w0, ring, ro + idx, w1, b, 0, first)
        _two(dst, do, x, xo + s0, w0, ring, ro + idx - h, w1, b, first, nr)
    _two(dst, do, x, xo + s0, w0, x, xo + s0 - lag, w1, b, max(nr, 0), m)


@numba.njit(**_JIT)
def _tap(dst, do, m, x, xo, s0, ring, ro, h, pos, lag, w):  # type: ignore[no-untyped-def]
    """``dst += w*x[t - lag]`` over outputs ``t = s0 .. s0+m-1``, the past before the block from the ring."""
    nr = min(m, lag - s0)
    if nr > 0:
        idx = (pos + h + s0 - lag) % h
        first = min(nr, h - idx)
        _add(dst, do, ring, ro + idx, w, 0, first)
        _add(dst, do, ring, ro + idx - h, w, first, nr)
    _add(dst, do, x, xo + s0 - lag, w, max(nr, 0), m)


@numba.njit(**_JIT)
def _push(ring, ro, h, pos, x, xo, n):  # type: ignore[no-untyped-def]
    """Write the block ``x[xo:xo+n]`` into the ring ``ring[ro:ro+h]`` over its oldest samples; returns the new ``pos``."""
    if h == 0:
        return 0
    if n >= h:
        ring[ro : ro + h] = x[xo + n - h : xo + n]
        return 0
    first = min(n, h - pos)
    ring[ro + pos : ro + pos + first] = x[xo : xo + first]
    ring[ro : ro + n - first] = x[xo + first : xo + n]
    return (pos + n) % h


@numba.njit(**_JIT)
def _row(dst, do, m, x, xo, xc, s0, ring, ro, h, pos, w, o, k, d, b):  # type: ignore[no-untyped-def]
    """Output row ``o`` of a tile, before the activation: ``dst[do+i] = b + sum_{j<k,c} w[o,c,j] x_c[s0+i - j*d]``.

    Channel ``c`` of the input starts at ``x[xo + c*xc]``, its ring at ``ring[ro + c*h]``.
    """
    if k > 1:
        _first_pass(dst, do, m, x, xo, s0, w[o, 0, 0], ring, ro, h, pos, d, w[o, 0, 1], b)
    else:
        _one(dst, do, x, xo + s0, w[o, 0, 0], b, m)
    for j in range(k):
        for c in range(1 if j < 2 else 0, w.shape[1]):
            _tap(dst, do, m, x, xo + c * xc, s0, ring, ro + c * h, h, pos, j * d, w[o, c, j])


@numba.njit(**_JIT)
def conv(x, xb, xc, out, ob, oc, n, ring, pos, w, bias, d, code, p):  # type: ignore[no-untyped-def]
    """One layer over a block: ``out_o[t] = act(bias[o] + sum_{j,c} w[o,c,j] x_c[t - j*d])``, then the ring takes the block.

    Parameters
    ----------
    x, out : 1-D arrays
        Flat views: signal ``b``'s channel ``c`` starts at ``x[b*xb + c*xc]``
        (``out[b*ob + o*oc]``), ``n`` samples long.
    ring : 1-D array
        Flat (batch, channels, h): the input's last ``h = (k-1)*d`` samples
        per signal and channel.
    pos : int64 array (batch,)
        Each signal's oldest ring index; updated.
    w : array (out, channels, k); bias : array (out,)
    d : int; code : int (see :data:`wavedil.kernels.codes.ACTIVATION_CODES`); p : float64 array (4,)
    """
    batch = pos.shape[0]
    outs, channels, k = w.shape
    h = (k - 1) * d
    for bi in range(batch):
        ro = bi * channels * h
        for s0 in range(0, n, TILE):
            m = min(TILE, n - s0)
            for o in range(outs):
                do = bi * ob + o * oc + s0
                _row(out, do, m, x, bi * xb, xc, s0, ring, ro, h, pos[bi], w, o, k, d, bias[o])
                activate_row(out[do : do + m], code, p[0], p, m)
        new = pos[bi]
        for c in range(channels):
            new = _push(ring, ro + c * h, h, pos[bi], x, bi * xb + c * xc, n)
        pos[bi] = new


@numba.njit(**_JIT)
def _chain_tile(x, xo, m, out, oo, rings, off, pos, bi, w, ks, d, bias, code, p, tmp):  # type: ignore[no-untyped-def]
    """One tile of signal ``bi`` through every layer of a mono chain, from ``x[xo:]`` into ``out[oo:]``."""
    layers = w.shape[0]
    for l in range(layers):
        h = (ks[l] - 1) * d[l]
        ro = off[l] + bi * h
        dst, do = (out, oo) if l == layers - 1 else (tmp, (l % 2) * TILE)
        if l == 0:
            _row(dst, do, m, x, xo, 0, 0, rings, ro, h, pos[l, bi], w[l], 0, ks[l], d[l], bias[l])
            pos[l, bi] = _push(rings, ro, h, pos[l, bi], x, xo, m)
        else:
            so = ((l - 1) % 2) * TILE
            _row(dst, do, m, tmp, so, 0, 0, rings, ro, h, pos[l, bi], w[l], 0, ks[l], d[l], bias[l])
            pos[l, bi] = _push(rings, ro, h, pos[l, bi], tmp, so, m)
        activate_row(dst[do : do + m], code[l], p[l][0], p[l], m)


@numba.njit(**_JIT)
def mono_chain(x, xb, out, ob, n, rings, off, pos, w, ks, d, bias, code, p, tmp):  # type: ignore[no-untyped-def]
    """Consecutive mono layers over a block, tile by tile (see the module's notes).

    Parameters
    ----------
    x, out : 1-D arrays
        Flat views: signal ``b`` starts at ``x[b*xb]`` (``out[b*ob]``).
    rings : 1-D array
        Layer ``l``'s ring for signal ``b`` is ``rings[off[l] + b*h_l:][:h_l]``, ``h_l = (ks[l]-1)*d[l]``.
    off : int64 array (layers,)
    pos : int64 array (layers, batch)
        Oldest ring index per layer and signal; updated.
    w : array (layers, 1, 1, kmax)
        Taps, zero-padded to the longest kernel; ``ks`` (layers,) the true lengths.
    d : int64 array (layers,); bias : array (layers,)
    code : int64 array (layers,); p : float64 array (layers, 4)
    tmp : 1-D array (2*TILE,)
        Scratch for the tiles between layers.
    """
    for bi in range(pos.shape[1]):
        for s0 in range(0, n, TILE):
            m = min(TILE, n - s0)
            _chain_tile(x, bi * xb + s0, m, out, bi * ob + s0, rings, off, pos, bi, w, ks, d, bias, code, p, tmp)
