"""The compiled WaveNet kernels against the NumPy engine, the reference.

Float32, as audio runs: random WaveNets of every option (the Core-formula
tests' strategy), block sizes from 1 to past the kernels' chunk, mono stacks
over several channels, streaming in uneven pieces, fast tanh, and every
``.nam`` architecture among the committed fixtures. The two engines agree
to 1e-5 of the output's peak. In float64 the compiled engine is also checked
by tests/test_wavenet_core.py against a plain loop of the Core's formulas
(it is the default engine there when Numba is installed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("numba")

import wavedil  # noqa: E402
from test_wavenet_core import _fill, wavenet_docs  # noqa: E402
from wavedil.engine import StreamingFilter  # noqa: E402
from wavedil.formats.nam import parse_nam  # noqa: E402
from wavedil.kernels.codes import supports_array  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "nam"
TOLERANCE = 1e-5


def assert_engines_agree(numba_out: np.ndarray, numpy_out: np.ndarray) -> None:
    peak = float(np.max(np.abs(numpy_out)))
    assert np.all(np.isfinite(numba_out))
    assert float(np.max(np.abs(numba_out - numpy_out))) <= TOLERANCE * max(peak, 1e-3)


def both(stack: wavedil.Stack, x: np.ndarray, **options) -> tuple[np.ndarray, np.ndarray]:
    return wavedil.apply(stack, x, engine="numba", **options), wavedil.apply(stack, x, engine="numpy", **options)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(config=wavenet_docs(), seed=st.integers(0, 2**16), block=st.sampled_from([1, 5, 64, 1000, 1500]))
def test_every_option_equals_the_numpy_engine(config, seed, block):
    stack = parse_nam(_fill(config, seed))
    x = np.random.default_rng(seed).normal(0, 0.5, 1700).astype(np.float32)
    assert_engines_agree(*both(stack, x, block_size=block))
    net = stack.layers[0]
    compiled = all(supports_array(arr) for arr in net.arrays)
    assert StreamingFilter(stack, 1, engine="numba").layer_engines == ["numba" if compiled else "numpy"]


def _standard(channels: int = 4, gated: bool = False, activation: str = "tanh", dilations=(1, 2, 4, 8)) -> wavedil.Stack:
    return wavedil.parse_spec(
        {
            "layers": [
                {
                    "type": "wavenet",
                    "init": {"seed": 3},
                    "head_scale": 0.1,
                    "arrays": [
                        {"channels": channels, "kernel_size": 3, "dilations": list(dilations), "activation": activation, "gated": gated, "head_size": 2},
                        {"input_size": channels, "channels": 2, "kernel_size": 2, "dilations": list(dilations), "activation": activation, "gated": gated, "head_size": 1},
                    ],
                }
            ]
        }
    )


@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "hardtanh", "silu", "softsign"])
def test_activations_and_gating_equal_the_numpy_engine(activation, gated):
    stack = _standard(gated=gated, activation=activation)
    x = np.random.default_rng(1).normal(0, 0.5, 3000).astype(np.float32)
    assert StreamingFilter(stack, 1, engine="numba").layer_engines == ["numba"]
    assert_engines_agree(*both(stack, x))


@pytest.mark.parametrize("fast_tanh", [False, True])
def test_mono_stack_over_channels_and_uneven_pieces(fast_tanh):
    """A mono WaveNet over 3 channels, fed in pieces of 1 to 2500 frames, equals the NumPy engine's whole run."""
    stack = _standard(dilations=(1, 3, 9, 27, 81, 243, 729, 1500))
    x = np.random.default_rng(2).normal(0, 0.5, (6000, 3)).astype(np.float32)
    want = wavedil.apply(stack, x, engine="numpy", fast_tanh=fast_tanh)
    f = StreamingFilter(stack, 3, engine="numba", fast_tanh=fast_tanh, block_size=2048)
    cuts = [0, 1, 2, 7, 1030, 3530, 3531, 6000]
    got = np.concatenate([f.process(x[a:b]) for a, b in zip(cuts, cuts[1:])] + [f.flush()])
    assert_engines_agree(got, want)


def test_fast_tanh_is_the_plugin_approximation_on_both_engines():
    stack = _standard()
    x = np.random.default_rng(4).normal(0, 0.8, 4000).astype(np.float32)
    fast_numba, fast_numpy = both(stack, x, fast_tanh=True)
    assert_engines_agree(fast_numba, fast_numpy)
    accurate = wavedil.apply(stack, x, engine="numpy")
    # The approximation is within 4.4e-4 per tanh: audible in the output, far outside the engines' agreement.
    assert float(np.max(np.abs(fast_numpy - accurate))) > 10 * TOLERANCE * float(np.max(np.abs(accurate)))


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.rglob("*.nam")))
def test_every_committed_nam_file_equals_the_numpy_engine(name):
    path = next(FIXTURES.rglob(name))
    stack = wavedil.load_spec(path)
    x = np.load(FIXTURES / "input.npy").astype(np.float32)
    assert_engines_agree(*both(stack, x))


def test_the_tanh_kernel_is_within_its_bound_over_float32():
    """The rational tanh against float64 tanh on a dense grid (4.1e-7 measured, 1e-6 promised)."""
    import numba

    from wavedil.kernels.tanh import tanh

    @numba.njit(error_model="numpy")
    def run(x, out):
        for i in range(x.size):
            out[i] = tanh(x[i])

    x = np.concatenate([np.linspace(-12, 12, 2_000_001), np.geomspace(1e-30, 1e-3, 1000)]).astype(np.float32)
    x = np.concatenate([x, -x, np.float32([np.inf, -np.inf, 0.0])])
    out = np.empty_like(x)
    run(x, out)
    assert float(np.max(np.abs(out - np.tanh(x.astype(np.float64))))) <= 1e-6
    small = np.abs(x) < 1e-3
    np.testing.assert_allclose(out[small], x[small], rtol=1e-6)


@pytest.mark.parametrize("shape", ["A1 standard", "A2 full", "WaveNet paper (gated, 32 channels)"])
def test_capture_shapes_equal_the_numpy_engine(shape):
    """The benchmark shapes at full size, on a second of audio: real captures' channel counts and kernels."""
    from benchmarks.workloads import STANDARD_CAPTURE, a2_document

    stack = {
        "A1 standard": lambda: wavedil.parse_spec(STANDARD_CAPTURE),
        "A2 full": lambda: parse_nam(a2_document()),
        "WaveNet paper (gated, 32 channels)": lambda: wavedil.preset("wavenet"),
    }[shape]()
    x = np.random.default_rng(5).normal(0, 0.3, 48000).astype(np.float32)
    assert StreamingFilter(stack, 1, engine="numba").layer_engines == ["numba"] * len(stack.layers)
    assert_engines_agree(*both(stack, x))
