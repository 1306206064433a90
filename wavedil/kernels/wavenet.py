"""The compiled forward pass of a WaveNet layer array (the ``numba`` engine).

One kernel call computes one layer over a block, fused::

    z      = b + M @ c[t] + sum_j W_j @ u[t - j*d]      (taps read in place from the history)
    p      = act(z)  |  act(z_a) * gate(z_b)  |  blend  (the layer's gating)
    skip  += p  or  H1 @ p + h1                          (the skip sum)
    u'     = u + L1 @ p + l1                             (the next layer's input, written in place)

with no stacked copy of the taps and no temporary besides ``z``. The products
run along time, four input rows per pass over an output row: a pass then
loads the output once for four multiply-adds, which keeps a core's two FMA
units busy where a row-by-row update is bound by its stores (measured here:
33-36 GFLOP/s against 24 for row by row and 26-58 for OpenBLAS's SGEMM on
these small matrices, whose calls cost more than they compute).

Activations are applied by code (:data:`wavedil.kernels.codes.ACTIVATION_CODES`);
a layer array with FiLM modulations or an activation without a code runs on
NumPy instead (:func:`wavedil.kernels.codes.supports_array`).
"""

from __future__ import annotations

import numba

from .activations import activate_row
from .codes import (  # the settings table's columns
    W_ACT, W_ACT_BOUNDS, W_ACT_SLOPES, W_BOTTLENECK, W_BUF, W_BUF_LEN, W_CHANNELS, W_CONV_B, W_CONV_W,
    W_GATING, W_H1_B, W_H1_OUT, W_H1_W, W_HAS_H1, W_HAS_L1, W_HISTORY, W_L1_B, W_L1_W, W_MID, W_MIX_W,
    W_OFFSETS, W_ROWS, W_SEC, W_SEC_BOUNDS, W_SEC_SLOPES, W_TAPS,
)

_OPTIONS = {"cache": True, "error_model": "numpy", "fastmath": {"contract"}}

# How a product starts its output rows (its first pass): add to them, overwrite them with the
# bias, or overwrite them with a base row plus the bias (the residual sum). Folding the bias and
# the residual into the first pass spares a pass over the rows each.
ADD, SET, RESIDUAL = 0, 1, 2


@numba.njit(inline="always", **_OPTIONS)
def _mac2(za, zb, ba, bb, base_a, base_b, mode, wa, wb, src, rows, offsets, n):  # type: ignore[no-untyped-def]
    """``z[t] (+)= [base[t] +] bias + sum_r w[r] * src[rows[r], offsets[r] + t]`` for two output rows.

    Four input rows per pass, and each input load serves both output rows
    (measured 30-45% faster than one row at a time). Rows are sliced, not
    indexed with an offset: Numba wraps negative indices, and the check on
    ``offset + t`` would keep the loop from vectorizing (measured 8x slower).
    """
    count = wa.shape[0]
    full = count - count % 4
    if mode == RESIDUAL:
        for t in range(n):
            za[t] = base_a[t] + ba
            zb[t] = base_b[t] + bb
    elif mode == SET:
        for t in range(n):
            za[t] = ba
            zb[t] = bb
    elif ba != 0 or bb != 0:
        for t in range(n):
            za[t] += ba
            zb[t] += bb
    for r in range(0, full, 4):
        a0, a1, a2, a3 = wa[r], wa[r + 1], wa[r + 2], wa[r + 3]
        b0, b1, b2, b3 = wb[r], wb[r + 1], wb[r + 2], wb[r + 3]
        x0 = src[rows[r], offsets[r] : offsets[r] + n]
        x1 = src[rows[r + 1], offsets[r + 1] : offsets[r + 1] + n]
        x2 = src[rows[r + 2], offsets[r + 2] : offsets[r + 2] + n]
        x3 = src[rows[r + 3], offsets[r + 3] : offsets[r + 3] + n]
        for t in range(n):
            v0, v1, v2, v3 = x0[t], x1[t], x2[t], x3[t]
            za[t] += (a0 * v0 + a1 * v1) + (a2 * v2 + a3 * v3)
            zb[t] += (b0 * v0 + b1 * v1) + (b2 * v2 + b3 * v3)
    for r in range(full, count):
        a0, b0 = wa[r], wb[r]
        x0 = src[rows[r], offsets[r] : offsets[r] + n]
        for t in range(n):
            za[t] += a0 * x0[t]
            zb[t] += b0 * x0[t]


@numba.njit(inline="always", **_OPTIONS)
def products(dst, at, w, bias, src, rows, offsets, n, mode, base, base_at, scratch):  # type: ignore[no-untyped-def]
    """``dst[o, at + t] (+)= [base[o, base_at + t] +] bias[o] + w[o] @ src rows`` for every output row ``o``.

    ``mode`` is :data:`ADD`, :data:`SET` or :data:`RESIDUAL` (then ``base``
    holds the rows added; otherwise it is not read). Output rows go two at a
    time; an odd last one is paired with ``scratch`` (a row of at least ``n``
    samples), whose result is dropped: one loop to compile, not two.
    """
    count = w.shape[0]
    for o in range(0, count, 2):
        za, ba, base_a = dst[o, at : at + n], bias[o], base[o, base_at : base_at + n]
        if o + 1 < count:
            zb, bb, base_b, wb = dst[o + 1, at : at + n], bias[o + 1], base[o + 1, base_at : base_at + n], w[o + 1]
        else:
            zb, bb, base_b, wb = scratch[:n], bias[o], scratch[:n], w[o]
        _mac2(za, zb, ba, bb, base_a, base_b, mode, w[o], wb, src, rows, offsets, n)


@numba.njit(inline="always", **_OPTIONS)
def _layer_product(  # type: ignore[no-untyped-def]
    step, z, u, history, conv_w, conv_rows, conv_offsets, conv_b, mix_w, no_bias, cond, cond_rows, cond_offsets,
    h1_w, h1_b, sk, l1_w, l1_b, out, dst_offset, p_rows, p_offsets, y, rechannel_w, rechannel_b, in_rows, in_offsets, n, scratch,
):
    """Step -1, 0, 1, 3 or 4 of :func:`layer_block`: the one call site of :func:`products`.

    One site, so the compiler builds the products once (each further site
    added seconds to the first compile).
    """
    target, at, w, bias, src, rows, offsets, mode, base, base_at = z, 0, conv_w, conv_b, u, conv_rows, conv_offsets, SET, z, 0
    if step == -1:
        target, at, w, bias, src, rows, offsets, base = u, history, rechannel_w, rechannel_b, y, in_rows, in_offsets, u
    elif step == 1:
        w, bias, src, rows, offsets, mode = mix_w, no_bias, cond, cond_rows, cond_offsets, ADD
    elif step == 3:
        target, w, bias, src, rows, offsets, mode, base = sk, h1_w, h1_b, z, p_rows, p_offsets, ADD, sk
    elif step == 4:
        target, at, w, bias, src, rows, offsets, mode, base, base_at = out, dst_offset, l1_w, l1_b, z, p_rows, p_offsets, RESIDUAL, u, history
    products(target, at, w, bias, src, rows, offsets, n, mode, base, base_at, scratch)


@numba.njit(inline="always", **_OPTIONS)
def _fill_past(u, channels, history):  # type: ignore[no-untyped-def]
    """``u[c, :history] = u[c, history]`` for every channel: the past of a constant input."""
    for c in range(channels):
        first, row = u[c, history], u[c, :history]
        for t in range(history):
            row[t] = first


@numba.njit(inline="always", **_OPTIONS)
def _rows_into(dst, at, src, src_at, rows, n, add):  # type: ignore[no-untyped-def]
    """``dst[r, at:at + n] (+)= src[r, src_at:src_at + n]`` for the first ``rows`` rows."""
    for r in range(rows):
        d, s = dst[r, at : at + n], src[r, src_at : src_at + n]
        if add:
            for t in range(n):
                d[t] += s[t]
        else:
            for t in range(n):
                d[t] = s[t]


@numba.njit(inline="always", **_OPTIONS)
def _activate_layer(z, mid, bottleneck, gating, act_code, act_slopes, act_bounds, sec_code, sec_slopes, sec_bounds, n):  # type: ignore[no-untyped-def]
    """``p`` from ``z`` in place: the activation, or the gated or blended pair (see the module docstring)."""
    if gating == 2:
        # blended keeps z's linear part: p = alpha * act(z) + (1 - alpha) * z with alpha = gate
        for o in range(bottleneck):
            row, lin = z[o], z[mid + o]
            for t in range(n):
                lin[t] = row[t]
    for o in range(bottleneck if gating == 0 else 2 * bottleneck):
        if o < bottleneck:
            activate_row(z[o], act_code, act_slopes[o], act_bounds, n)
        else:
            activate_row(z[o], sec_code, sec_slopes[o - bottleneck], sec_bounds, n)
    if gating == 1:
        for o in range(bottleneck):
            row, gate = z[o], z[bottleneck + o]
            for t in range(n):
                row[t] *= gate[t]
    elif gating == 2:
        for o in range(bottleneck):
            row, gate, lin = z[o], z[bottleneck + o], z[mid + o]
            for t in range(n):
                row[t] = (row[t] - lin[t]) * gate[t] + lin[t]


@numba.njit(**_OPTIONS)
def array_block(  # type: ignore[no-untyped-def]
    n, prime, y, cond, rechannel_w, settings, params, index, state, z, skip, out, out_offset, ramp, zeros, zero_bias, scratch,
):
    """A layer array over ``n`` samples: :func:`layer_block` for each layer, the first one making its input by the rechannel.

    One call per array and chunk (a call from Python costs about a
    microsecond per argument, more than a layer's work on a short chunk).
    Every layer's weights live in ``params``, its tap rows and offsets in
    ``index`` and its input buffer in ``state``, at the places its row of
    ``settings`` gives: one compiled signature serves every model.
    ``ramp`` (0, 1, 2, ...) and ``zeros`` index the rows of a 1x1,
    ``zero_bias`` is a bias of zeros and ``scratch`` a spare row, each long
    enough for any layer: made once by the caller, since every NumPy
    function a kernel calls adds to its first compile.
    """
    for i in range(settings.shape[0]):
        layer_block(i, n, prime, y, cond, rechannel_w, settings, params, index, state, z, skip, out, out_offset, ramp, zeros, zero_bias, scratch)


@numba.njit(inline="always", **_OPTIONS)
def layer_block(  # type: ignore[no-untyped-def]
    i, n, prime, y, cond, rechannel_w, settings, params, index, state, z, skip, out, out_offset, ramp, zeros, zero_bias, scratch,
):
    """Layer ``i`` of :func:`array_block` over ``n`` samples of every signal, fused (see the module docstring).

    Its buffer (batch, C, history + chunk) holds the layer's input at
    ``[history, history + n)`` after its past; ``prime`` first fills the past
    with the first input sample (the steady state of a constant input).
    ``z`` (rows, chunk) is scratch; the bottleneck's ``p`` is its first rows.
    The next layer's buffer (or ``out`` at ``out_offset``, after the last
    layer) receives its output. Afterwards the last ``history`` input
    samples move to the front of the buffer. The first layer's input is made
    from the array's input ``y`` by the rechannel 1x1.
    """
    batch, cond_size = y.shape[0], cond.shape[1]
    st = settings[i]
    history, c, mid, b, taps, width = st[W_HISTORY], st[W_CHANNELS], st[W_MID], st[W_BOTTLENECK], st[W_TAPS], st[W_H1_OUT]
    has_l1, has_h1 = st[W_HAS_L1] != 0, st[W_HAS_H1] != 0
    buf = state[st[W_BUF] : st[W_BUF] + batch * c * st[W_BUF_LEN]].reshape((batch, c, st[W_BUF_LEN]))
    dst, dst_offset = out, out_offset
    if i + 1 < settings.shape[0]:
        nx = settings[i + 1]
        dst = state[nx[W_BUF] : nx[W_BUF] + batch * nx[W_CHANNELS] * nx[W_BUF_LEN]].reshape((batch, nx[W_CHANNELS], nx[W_BUF_LEN]))
        dst_offset = nx[W_HISTORY]
    conv_w = params[st[W_CONV_W] : st[W_CONV_W] + mid * taps].reshape((mid, taps))
    conv_rows, conv_offsets = index[st[W_ROWS] : st[W_ROWS] + taps], index[st[W_OFFSETS] : st[W_OFFSETS] + taps]
    conv_b = params[st[W_CONV_B] : st[W_CONV_B] + mid]
    mix_w = params[st[W_MIX_W] : st[W_MIX_W] + mid * cond_size].reshape((mid, cond_size))
    act_slopes, act_bounds = params[st[W_ACT_SLOPES] : st[W_ACT_SLOPES] + b], params[st[W_ACT_BOUNDS] : st[W_ACT_BOUNDS] + 4]
    sec_slopes, sec_bounds = params[st[W_SEC_SLOPES] : st[W_SEC_SLOPES] + b], params[st[W_SEC_BOUNDS] : st[W_SEC_BOUNDS] + 4]
    l1_w, l1_b = params[st[W_L1_W] : st[W_L1_W] + c * b].reshape((c, b)), params[st[W_L1_B] : st[W_L1_B] + c]
    h1_w, h1_b = params[st[W_H1_W] : st[W_H1_W] + width * b].reshape((width, b)), params[st[W_H1_B] : st[W_H1_B] + width]
    for s in range(batch):
        u, sk, nxt = buf[s], skip[s], dst[s]
        # The steps in order. The products share one call site, and so do the row copies:
        # the compiler builds each once, not once per use (each use added seconds to the first compile).
        for step in range(-1, 6):
            if step == -1 and i != 0:
                continue
            if step == 0 and prime:
                # The steady state of a constant input: its past is its first sample (the input is ready now).
                _fill_past(u, c, history)
            if step == 2:
                _activate_layer(z, mid, b, st[W_GATING], st[W_ACT], act_slopes, act_bounds, st[W_SEC], sec_slopes, sec_bounds, n)
            elif step == 5 or (step == 3 and not has_h1) or (step == 4 and not has_l1):
                # 3 without a head 1x1: the skip sum adds p itself; 4 without a layer 1x1: the next
                # input is this one; 5: the last ``history`` input samples become the past of the next
                # chunk (the source lies ahead of the destination: a forward copy reads nothing it has
                # overwritten).
                target, at, src, src_at, rows, count, add = sk, 0, z, 0, b, n, True
                if step == 4:
                    target, at, src, src_at, rows, count, add = nxt, dst_offset, u, history, c, n, False
                elif step == 5:
                    target, at, src, src_at, rows, count, add = u, 0, u, n, c, history, False
                _rows_into(target, at, src, src_at, rows, count, add)
            else:
                # -1: input = rechannel y; 0: z = b + conv taps; 1: z += mixin; 3: skip += head1x1; 4: next input = input + layer1x1
                _layer_product(
                    step, z, u, history, conv_w, conv_rows, conv_offsets, conv_b, mix_w, zero_bias[:mid], cond[s], ramp[:cond_size], zeros[:cond_size],
                    h1_w, h1_b, sk, l1_w, l1_b, nxt, dst_offset, ramp[:b], zeros[:b], y[s], rechannel_w, zero_bias[: rechannel_w.shape[0]],
                    ramp[: y.shape[1]], zeros[: y.shape[1]], n, scratch,
                )
