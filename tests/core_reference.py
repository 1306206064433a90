"""A plain reading of NeuralAmpModelerCore's WaveNet, for the tests: loops over samples, no wavedil code.

It takes a ``.nam`` document (``config`` and flat ``weights``) and walks the
weights in the Core's order (``wavenet/model.cpp``, ``conv1d.cpp``,
``film.h``), computing each sample from the formulas: the independent
reference the engine is checked against for every WaveNet option. Silence
before the input is made explicit: ``pad`` zeros are prepended (at least the
receptive field) and dropped from the output.
"""

from __future__ import annotations

import numpy as np

FILM_SLOTS = (
    "conv_pre_film",
    "conv_post_film",
    "input_mixin_pre_film",
    "input_mixin_post_film",
    "activation_pre_film",
    "activation_post_film",
    "layer1x1_post_film",
    "head1x1_post_film",
)


def activation(spec, x: np.ndarray) -> np.ndarray:
    """The Core's activations (exact tanh) on a (channels, n) array."""
    if isinstance(spec, str):
        spec = {"type": spec}
    t = spec["type"]
    if t == "Tanh":
        return np.tanh(x)
    if t == "ReLU":
        return np.maximum(x, 0)
    if t == "Sigmoid":
        return 1 / (1 + np.exp(-x))
    if t == "SiLU":
        return x / (1 + np.exp(-x))
    if t == "Hardswish":
        return x * np.clip(x + 3, 0, 6) / 6
    if t == "Hardtanh":
        return np.clip(x, spec.get("min_val", -1.0), spec.get("max_val", 1.0))
    if t == "Softsign":
        return x / (1 + np.abs(x))
    if t == "LeakyReLU":
        return np.where(x > 0, x, spec.get("negative_slope", 0.01) * x)
    if t == "PReLU":
        slopes = spec.get("negative_slopes")
        slope = np.asarray(slopes)[:, None] if slopes is not None else spec.get("negative_slope", 0.01)
        return np.where(x > 0, x, slope * x)
    if t in ("LeakyHardtanh", "LeakyHardTanh"):
        lo, hi = spec["min_val"], spec["max_val"]
        return np.where(x < lo, lo + spec["min_slope"] * (x - lo), np.where(x > hi, hi + spec["max_slope"] * (x - hi), x))
    raise ValueError(t)


class _Cursor:
    def __init__(self, weights) -> None:
        self.w = np.asarray(weights, dtype=np.float64)
        self.i = 0

    def conv(self, cin: int, cout: int, k: int, bias: bool, groups: int = 1):
        """Dense (cout, cin, k) in PyTorch order (last tap current) and bias."""
        w = np.zeros((cout, cin, k))
        og, ig = cout // groups, cin // groups
        for g in range(groups):
            for o in range(og):
                for i in range(ig):
                    for j in range(k):
                        w[g * og + o, g * ig + i, j] = self.w[self.i]
                        self.i += 1
        b = np.zeros(cout)
        if bias:
            b = self.w[self.i : self.i + cout].copy()
            self.i += cout
        return w, b


def _causal(w: np.ndarray, b: np.ndarray, x: np.ndarray, dilation: int) -> np.ndarray:
    """y[:, t] = b + sum_j w[:, :, j] @ x[:, t - (k-1-j)*d], zeros before the start."""
    cout, _, k = w.shape
    n = x.shape[1]
    y = np.tile(b[:, None], (1, n))
    for t in range(n):
        for j in range(k):
            s = t - (k - 1 - j) * dilation
            if s >= 0:
                y[:, t] += w[:, :, j] @ x[:, s]
    return y


def _film(cur_film, v: np.ndarray, c: np.ndarray) -> np.ndarray:
    (w, b), shift = cur_film
    ss = _causal(w, b, c, 1)
    rows = v.shape[0]
    return v * ss[:rows] + (ss[rows:] if shift else 0)


def wavenet(doc: dict, x: np.ndarray) -> np.ndarray:
    """The output (out_channels, n) of a WaveNet document on x (in_channels, n), the input preceded by zeros."""
    config = doc["config"]
    cur = _Cursor(doc["weights"])
    cond = x if config.get("condition_dsp") is None else wavenet(config["condition_dsp"], x)
    y, head_in = x, None
    for arr in config["layers"]:
        n_layers = len(arr["dilations"])
        channels = arr["channels"]
        bottleneck = arr.get("bottleneck", channels)
        ks = arr.get("kernel_sizes", [arr.get("kernel_size")] * n_layers)
        acts = arr["activation"] if isinstance(arr["activation"], list) else [arr["activation"]] * n_layers
        if "gating_mode" in arr:
            modes = arr["gating_mode"] if isinstance(arr["gating_mode"], list) else [arr["gating_mode"]] * n_layers
        else:
            modes = ["gated" if arr.get("gated") else "none"] * n_layers
        sec = arr.get("secondary_activation")
        secs = sec if isinstance(sec, list) else [sec] * n_layers
        l1 = arr.get("layer1x1") or {"active": True, "groups": 1}
        h1 = arr.get("head1x1") or {"active": False, "out_channels": channels, "groups": 1}
        films = {}
        for slot in FILM_SLOTS:
            f = arr.get(slot)
            if f and f.get("active", True):
                films[slot] = (f.get("shift", True), f.get("groups", 1))
        if "head" in arr and arr["head"] is not None:
            head_size, head_k, head_bias = arr["head"]["out_channels"], arr["head"]["kernel_size"], arr["head"]["bias"]
        else:
            head_size, head_k, head_bias = arr["head_size"], 1, arr["head_bias"]
        cs = arr["condition_size"]
        rw, _ = cur.conv(arr["input_size"], channels, 1, False)
        r = _causal(rw, np.zeros(channels), y, 1)
        acc = np.zeros(((h1["out_channels"] if h1["active"] else bottleneck), x.shape[1])) if head_in is None else head_in.copy()
        for li in range(n_layers):
            mode = modes[li]
            mid = bottleneck * (1 if mode == "none" else 2)
            cw, cb = cur.conv(channels, mid, ks[li], True, arr.get("groups_input", 1))
            mw, mb = cur.conv(cs, mid, 1, False, arr.get("groups_input_mixin", 1))
            l1w = cur.conv(bottleneck, channels, 1, True, l1["groups"]) if l1["active"] else None
            h1w = cur.conv(bottleneck, h1["out_channels"], 1, True, h1["groups"]) if h1["active"] else None
            width = {
                "conv_pre_film": channels,
                "conv_post_film": mid,
                "input_mixin_pre_film": cs,
                "input_mixin_post_film": mid,
                "activation_pre_film": mid,
                "activation_post_film": bottleneck,
                "layer1x1_post_film": channels,
                "head1x1_post_film": h1["out_channels"],
            }
            fw = {}
            for slot in FILM_SLOTS:
                if slot in films:
                    shift, groups = films[slot]
                    fw[slot] = (cur.conv(cs, width[slot] * (2 if shift else 1), 1, True, groups), shift)
            u = _film(fw["conv_pre_film"], r, cond) if "conv_pre_film" in fw else r
            z = _causal(cw, cb, u, arr["dilations"][li])
            if "conv_post_film" in fw:
                z = _film(fw["conv_post_film"], z, cond)
            cm = _film(fw["input_mixin_pre_film"], cond, cond) if "input_mixin_pre_film" in fw else cond
            m = _causal(mw, mb, cm, 1)
            if "input_mixin_post_film" in fw:
                m = _film(fw["input_mixin_post_film"], m, cond)
            z = z + m
            if "activation_pre_film" in fw:
                z = _film(fw["activation_pre_film"], z, cond)
            if mode == "none":
                p = activation(acts[li], z)
            else:
                s = secs[li] if secs[li] is not None else "Sigmoid"
                a, g = activation(acts[li], z[:bottleneck]), activation(s, z[bottleneck:])
                p = a * g if mode == "gated" else g * a + (1 - g) * z[:bottleneck]
            if "activation_post_film" in fw:
                p = _film(fw["activation_post_film"], p, cond)
            if l1w is not None:
                lo = _causal(l1w[0], l1w[1], p, 1)
                # The Core applies layer1x1_post_film in blended layers only.
                if mode == "blended" and "layer1x1_post_film" in fw:
                    lo = _film(fw["layer1x1_post_film"], lo, cond)
                r_next = r + lo
            else:
                r_next = r
            if h1w is not None:
                h = _causal(h1w[0], h1w[1], p, 1)
                if "head1x1_post_film" in fw:
                    h = _film(fw["head1x1_post_film"], h, cond)
            else:
                h = p
            acc = acc + h
            r = r_next
        hw, hb = cur.conv(acc.shape[0], head_size, head_k, head_bias)
        head_in = _causal(hw, hb, acc, arr.get("head", {}).get("head_dilation", 1) if arr.get("head") else 1)
        y = r
    out = head_in
    post = config.get("head")
    post_convs = []
    if post is not None:
        cin = out.shape[0]
        for i, k in enumerate(post["kernel_sizes"]):
            cout = post["out_channels"] if i + 1 == len(post["kernel_sizes"]) else post["channels"]
            post_convs.append(cur.conv(cin, cout, k, True))
            cin = cout
    head_scale = cur.w[cur.i]
    cur.i += 1
    assert cur.i == len(cur.w), (cur.i, len(cur.w))
    out = head_scale * out
    for w, b in post_convs:
        out = _causal(w, b, activation(post["activation"], out), 1)
    return out


def run(doc: dict, x: np.ndarray, pad: int) -> np.ndarray:
    """The document's output on mono ``x`` preceded by ``pad`` zeros (silence), as (n, out_channels)."""
    xs = np.concatenate([np.zeros(pad), np.asarray(x, dtype=np.float64)])[None, :]
    return wavenet(doc, xs)[:, pad:].T
