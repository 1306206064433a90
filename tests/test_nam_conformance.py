"""Every ``.nam`` file Neural Amp Modeler writes runs here as NAM runs it.

Part A (needs ``torch`` and ``neural-amp-modeler`` 0.13.0; skipped without
them): seeded models of every architecture and every WaveNet option NAM 0.13
builds are written by NAM's own ``export``, and ``wavedil apply`` (float32
arithmetic) must give NAM's own forward pass (float64) to ``RTOL`` of its
peak. NAM's forward pass pads the input with
``receptive_field - 1`` zeros and returns one sample per input sample: the
input preceded by silence, which is what wavedil computes. An LSTM pads
nothing and starts from the state its file stores (the state one second of
silence leads to), so it is run as NAM's reader (``init_from_nam``) loads it.

Part B (no NAM needed): files NAM 0.12.3 wrote (layout 0.5.x, which NAM 0.13
cannot reload), committed in ``tests/fixtures/nam/v0_5`` with NAM 0.12.3's
output, made by ``tests/fixtures/nam/make_fixtures.py``.

Where NAM's Python and NeuralAmpModelerCore (the plugin's engine) read a file
differently, the Core is the reference. Those cases have ids starting with
``core:``. Each file the Core runs is checked against NAM's Python rewritten
to mean what the Core means and against a committed output of the Core
itself (``tests/fixtures/nam/core``, ``v0_5/linear``), and NAM's own reading
is checked to still differ, so the divergence stays documented:

* Linear: the Core puts ``weights[0]`` on the current sample, NAM's Python
  (a PyTorch convolution) ``weights[-1]``.
* ``layer1x1.active = false``: the Core passes a layer's input on unchanged;
  NAM's Python adds the activation to it.
* ``layer1x1_post_film``: the Core applies it only in blended layers, NAM's
  Python in every layer.
* An LSTM whose stored state is not the state of silence: NAM's Python starts
  from it, the Core prewarms on silence first (wavedil: the state of endless
  silence).
* Files the Core refuses or reads against NAM's Python, refused here with one
  ``Error:`` line: ``Softsigmoid`` (no such activation in the Core), Hardtanh
  bounds other than [-1, 1] (the Core ignores them), a post-stack head whose
  activation has parameters (NAM writes it as ``{"name": ...}``, the Core
  needs ``{"type": ...}``), and ``Sequential`` (no such architecture in the
  Core).

The NAM models are built, exported and run once per session. ``wavedil
apply`` runs the command line's own code in this process (click's runner:
argument parsing, the spec loader, the WAV files, the report), because a
fresh interpreter costs two seconds of start-up per call; what only a real
process shows (exit code 1, a single ``Error:`` line, no traceback) runs as
``python -m wavedil``, side by side. The file takes about a minute on two
cores.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from scipy.signal import lfilter

import wavedil
from core_reference import FILM_SLOTS
from nam_seeding import randomize
from wavedil.cli.main import cli
from wavedil.formats.nam import load_nam

RATE = 48000
#: Largest error allowed, relative to the reference's peak (wavedil runs in float32).
RTOL = 1e-5
#: A divergence from NAM's Python must be at least this (relative to the peak) to count as one.
DIVERGES = 1e-3
FIXTURES = Path(__file__).parent / "fixtures" / "nam"


def probe_signal(n: int = 24000, seed: int = 7) -> np.ndarray:
    """0.5 s at 48 kHz: noise with a 220 Hz burst, peak 0.5, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    x = 0.15 * rng.standard_normal(n) + ((t > 0.1) & (t < 0.35)) * 0.4 * np.sin(2 * np.pi * 220 * t)
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def error(got: np.ndarray, want: np.ndarray) -> float:
    """max|got - want| relative to max|want| (the tolerance's measure)."""
    assert got.shape == want.shape, (got.shape, want.shape)
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def assert_matches(got: np.ndarray, want: np.ndarray, what: str) -> None:
    # A reference that is all but silent would make any output pass.
    assert np.max(np.abs(want)) > 1e-3, f"{what}: the reference is all but silent"
    assert error(got, want) <= RTOL, f"{what}: max error {error(got, want):.3g} of the peak"


@dataclass(frozen=True)
class Outcome:
    """How a ``wavedil`` command ended."""

    code: int
    stdout: str
    stderr: str

    def check(self) -> None:
        """Assert the command succeeded, showing its stderr if not."""
        assert self.code == 0, self.stderr


def in_process(args: list[str]) -> Outcome:
    """``wavedil ARGS`` run by the command line's own code in this process.

    An exception the command did not turn into an ``Error:`` line is appended
    to stderr as the traceback a real process would print.
    """
    result = CliRunner().invoke(cli, args)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return Outcome(result.exit_code, result.stdout, stderr)


def _process(args: list[str]) -> Outcome:
    proc = subprocess.run([sys.executable, "-m", "wavedil", *args], capture_output=True, text=True, timeout=600)
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def processes(jobs: dict[str, list[str]]) -> dict[str, Outcome]:
    """``python -m wavedil ARGS`` for each job, one per core at a time."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {key: pool.submit(_process, args) for key, args in jobs.items()}
        return {key: f.result() for key, f in futures.items()}


def error_line(outcome: Outcome) -> str:
    """The one ``Error:`` line of a refused command (exit code 1, no traceback)."""
    assert outcome.code == 1, (outcome.code, outcome.stderr)
    assert "Traceback" not in outcome.stderr, outcome.stderr
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), outcome.stderr
    return lines[0]


def apply_args(src: Path, model: Path, out: Path, *extra: str) -> list[str]:
    return ["apply", str(src), "-o", str(out), "--spec", str(model), "-q", "-j", "1", *extra]


def read_wav(path: Path) -> np.ndarray:
    y, rate = sf.read(path, dtype="float64")
    assert rate == RATE
    return y


# ---------------------------------------------------------------------------
# Part A: models built by NAM 0.13.0


def nam_forward(model: Any, x: np.ndarray) -> np.ndarray:
    """NAM's forward pass, in float64, with NAM's default padding (the input preceded by silence)."""
    import torch

    model = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        return model(torch.from_numpy(x.astype(np.float64))).numpy()


TANH_SIGMOID = {"name": "PairMultiply", "primary": "Tanh", "secondary": "Sigmoid"}


def array(
    channels: int = 4,
    dilations: tuple[int, ...] = (1, 2, 4),
    kernel_sizes: int | list[int] = 3,
    activation: Any = "Tanh",
    head: tuple[int, int, bool] = (1, 1, True),
    input_size: int = 1,
    condition_size: int = 1,
    **options: Any,
) -> dict[str, Any]:
    """One layer array in NAM 0.13's init format; ``head`` is (out_channels, kernel_size, bias)."""
    return {
        "input_size": input_size,
        "condition_size": condition_size,
        "channels": channels,
        "kernel_sizes": kernel_sizes if isinstance(kernel_sizes, list) else [kernel_sizes] * len(dilations),
        "dilations": list(dilations),
        "activation": activation,
        "head": {"out_channels": head[0], "kernel_size": head[1], "bias": head[2]},
        **options,
    }


def wavenet(*arrays: dict[str, Any], head_scale: float = 0.5, head: dict | None = None, condition_dsp: dict | None = None) -> Any:
    from nam.models.wavenet import WaveNet

    config = {"layers_configs": list(arrays), "head": head, "head_scale": head_scale, "sample_rate": RATE}
    if condition_dsp is not None:
        config["condition_dsp"] = {"name": "WaveNet", "config": condition_dsp}
    return WaveNet.init_from_config(config)


def a1(channels: int, head_size: int, long: bool) -> Any:
    """An A1 preset (NAM 0.12.3's trainer: standard, lite, feather, nano) in NAM 0.13's format.

    NAM 0.13's trainer only trains A2; these shapes are the A1 files in use.
    """
    first = list(2**i for i in range(10 if long else 7))
    second = first if long else [128, 256, 512] + [2**i for i in range(10)]
    return wavenet(
        array(channels, tuple(first), 3, head=(head_size, 1, False)),
        array(head_size, tuple(second), 3, head=(1, 1, True), input_size=channels),
        head_scale=0.02,
    )


def film(slots: dict[str, tuple[bool, int]]) -> dict[str, dict[str, Any]]:
    """FiLM settings: slot -> (shift, groups)."""
    return {"film_params": {slot: {"active": True, "shift": shift, "groups": groups} for slot, (shift, groups) in slots.items()}}


CONDITION_DSP = {"layers_configs": [array(3, (1, 2), 2, head=(2, 1, True))], "head": None, "head_scale": 1.0}


def lstm(hidden_size: int, num_layers: int) -> Any:
    from nam.models.recurrent import LSTM

    return LSTM(hidden_size=hidden_size, num_layers=num_layers, sample_rate=RATE)


def convnet(channels: int, dilations: list[int], batchnorm: bool, activation: str) -> Any:
    from nam.models.conv_net import ConvNet

    return ConvNet(channels=channels, dilations=dilations, batchnorm=batchnorm, activation=activation, sample_rate=RATE)


def linear(receptive_field: int, bias: bool) -> Any:
    from nam.models.linear import Linear

    return Linear(receptive_field=receptive_field, bias=bias, sample_rate=RATE)


def a2() -> Any:
    """A2 exactly as NAM 0.13's trainer builds it: a PackedWaveNet of two WaveNets (3 and 8 channels)."""
    from nam.models.wavenet import PackedWaveNet
    from nam.train.core import _get_packed_model_config

    config = _get_packed_model_config()["net"]["config"]
    return PackedWaveNet.init_from_config({**config, "sample_rate": RATE})


#: Per-layer gating. (NAM 0.13 cannot export a pair whose half is one of its own
#: activations, Softsign or LeakyHardtanh: only PyTorch's.)
GATING_PER_LAYER = [
    "Tanh",
    {"name": "PairMultiply", "primary": "SiLU", "secondary": "Hardswish"},
    {"name": "PairBlend", "primary": "Hardtanh", "secondary": "Sigmoid"},
]

#: Files NAM's Python and the Core agree on: id -> (build, gain of the random weights).
AGREED: dict[str, tuple[Callable[[], Any], float]] = {
    "a1_standard": (lambda: a1(16, 8, True), 1.0),
    "a1_lite": (lambda: a1(12, 6, False), 1.0),
    "a1_feather": (lambda: a1(8, 4, False), 1.0),
    "a1_nano": (lambda: a1(4, 2, False), 1.0),
    # The shapes the 0.12.3 tests pinned (their "standard" is a1_standard).
    "gated_relu": (lambda: wavenet(array(4, (1, 2, 4, 8), 2, {**TANH_SIGMOID, "primary": "ReLU"}), head_scale=0.7), 1.0),
    "three_arrays": (
        lambda: wavenet(
            array(6, (1, 4, 16), 3, "Sigmoid", head=(4, 1, False)),
            array(4, (1, 2, 8), 2, "Hardtanh", head=(3, 1, True), input_size=6),
            array(3, (2, 5), 3, {**TANH_SIGMOID, "primary": "LeakyReLU"}, head=(1, 1, True), input_size=4),
            head_scale=0.7,
        ),
        1.0,
    ),
    "kernel_sizes": (lambda: wavenet(array(dilations=(1, 2, 3, 5), kernel_sizes=[2, 5, 1, 3])), 1.0),
    "activations_with_parameters": (
        lambda: wavenet(
            array(
                dilations=(1, 2, 4, 1, 2),
                activation=[
                    {"name": "LeakyReLU", "negative_slope": 0.2},
                    {"name": "PReLU"},
                    {"name": "PReLU", "num_parameters": 4},
                    {"name": "LeakyHardtanh", "min_val": -0.6, "max_val": 0.4, "min_slope": 0.05, "max_slope": 0.2},
                    "Hardtanh",
                ],
            )
        ),
        1.5,
    ),
    "activations_plain": (
        lambda: wavenet(array(dilations=(1, 2, 4, 8, 1, 2), activation=["Softsign", "SiLU", "Hardswish", "ReLU", "Sigmoid", "Tanh"])),
        1.5,
    ),
    "gated": (lambda: wavenet(array(activation=TANH_SIGMOID)), 1.0),
    "blended": (lambda: wavenet(array(activation={"name": "PairBlend", "primary": "ReLU", "secondary": "Sigmoid"})), 1.0),
    "gating_per_layer": (lambda: wavenet(array(activation=GATING_PER_LAYER)), 1.0),
    "bottleneck": (lambda: wavenet(array(bottleneck=2)), 1.0),
    "bottleneck_gated": (lambda: wavenet(array(bottleneck=3, activation=TANH_SIGMOID)), 1.0),
    "head_kernel": (lambda: wavenet(array(head=(1, 4, False))), 1.0),
    "head1x1": (lambda: wavenet(array(head_1x1_config={"active": True, "out_channels": 2, "groups": 2})), 1.0),
    "layer1x1_groups": (lambda: wavenet(array(layer_1x1_config={"active": True, "groups": 2})), 1.0),
    "groups_input": (lambda: wavenet(array(groups_input=2)), 1.0),
    "condition_dsp": (lambda: wavenet(array(condition_size=2, groups_input_mixin=2), condition_dsp=CONDITION_DSP), 1.0),
    "film_conv_pre": (lambda: wavenet(array(**film({"conv_pre_film": (True, 1)}))), 1.0),
    "film_conv_post": (lambda: wavenet(array(**film({"conv_post_film": (False, 1)}))), 1.0),
    "film_input_mixin_pre": (lambda: wavenet(array(**film({"input_mixin_pre_film": (True, 1)}))), 1.0),
    "film_input_mixin_post": (lambda: wavenet(array(**film({"input_mixin_post_film": (False, 1)}))), 1.0),
    "film_activation_pre": (lambda: wavenet(array(activation=TANH_SIGMOID, **film({"activation_pre_film": (True, 1)}))), 1.0),
    "film_activation_post": (lambda: wavenet(array(activation=TANH_SIGMOID, **film({"activation_post_film": (False, 1)}))), 1.0),
    # In blended layers, where the Core applies it (see core:layer1x1_post_film_ungated).
    "film_layer1x1_post": (
        lambda: wavenet(array(activation={"name": "PairBlend", "primary": "Tanh", "secondary": "Sigmoid"}, **film({"layer1x1_post_film": (True, 1)}))),
        1.0,
    ),
    "film_head1x1_post": (
        lambda: wavenet(array(head_1x1_config={"active": True, "out_channels": 2, "groups": 1}, **film({"head1x1_post_film": (False, 1)}))),
        1.0,
    ),
    "film_all_grouped": (
        lambda: wavenet(
            array(
                condition_size=2,
                activation={"name": "PairBlend", "primary": "Tanh", "secondary": "Sigmoid"},
                head_1x1_config={"active": True, "out_channels": 2, "groups": 1},
                **film({slot: (i % 2 == 0, 2) for i, slot in enumerate(FILM_SLOTS)}),
            ),
            condition_dsp=CONDITION_DSP,
        ),
        1.0,
    ),
    "slimmable_full_size": (
        lambda: wavenet(array(slimmable={"method": "slice_channels_uniform", "kwargs": {"allowed_channels": [2, 4]}})),
        1.0,
    ),
    "post_stack_head": (
        lambda: wavenet(array(head=(2, 1, True)), head={"channels": 3, "activation": "Tanh", "out_channels": 1, "kernel_sizes": [3, 2]}),
        1.0,
    ),
    "two_arrays": (
        lambda: wavenet(array(head=(3, 3, False)), array(3, (1, 3), 2, "ReLU", head=(1, 2, True), input_size=4)),
        1.0,
    ),
    "lstm_1x3": (lambda: lstm(3, 1), 2.0),
    "lstm_2x5": (lambda: lstm(5, 2), 2.0),
    "convnet_batchnorm": (lambda: convnet(3, [1, 2, 4, 8], True, "Tanh"), 1.0),
    "convnet": (lambda: convnet(4, [1, 3, 9], False, "ReLU"), 1.0),
}

#: Files the Core reads otherwise than NAM's Python (see the module docstring).
CORE: dict[str, tuple[Callable[[], Any], float]] = {
    "core:linear": (lambda: linear(12, False), 1.0),
    "core:linear_bias": (lambda: linear(12, True), 1.0),
    "core:layer1x1_inactive": (lambda: wavenet(array(layer_1x1_config={"active": False})), 1.0),
    "core:layer1x1_post_film_ungated": (lambda: wavenet(array(activation=GATING_PER_LAYER, **film({"layer1x1_post_film": (True, 1)}))), 1.0),
    "core:lstm_unsettled_state": (lambda: lstm(3, 1), 2.0),
}

#: Files NAM 0.13 writes that the Core cannot run as NAM's Python does: refused, naming the cause.
REFUSED: dict[str, tuple[Callable[[], Any], str]] = {
    "core:softsigmoid": (lambda: wavenet(array(activation="Softsigmoid")), "Softsigmoid"),
    "core:hardtanh_bounds": (lambda: wavenet(array(activation={"name": "Hardtanh", "min_val": -0.5, "max_val": 2.0})), "Hardtanh"),
    "core:post_stack_head_activation_parameters": (
        lambda: wavenet(
            array(head=(2, 1, True)),
            head={"channels": 3, "activation": {"name": "LeakyReLU", "negative_slope": 0.1}, "out_channels": 1, "kernel_sizes": [2]},
        ),
        "activation",
    ),
    "core:sequential": (lambda: _sequential(), "Sequential"),
}

#: One model of each architecture for ``wavedil report``.
REPORTED = ("film_all_grouped", "a2", "lstm_2x5", "convnet_batchnorm", "core:linear_bias")


def _sequential() -> Any:
    from nam.models.sequential import Sequential

    return Sequential(models=[linear(4, True), linear(3, False)])


def core_reading(name: str, model: Any, exported: dict[str, Any], doc: dict[str, Any], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(NAM's Python rewritten to mean what the Core means, NAM's own reading) of a ``core:`` file.

    ``exported`` is the file as NAM wrote it, ``doc`` as the test runs it.
    """
    import torch
    from nam.models._from_nam import init_from_nam

    if name.startswith("core:linear"):
        # The Core's reading is the same convolution with the kernel reversed in time.
        core = copy.deepcopy(model)
        with torch.no_grad():
            core._net.weight.copy_(torch.flip(core._net.weight, dims=[2]))
        return nam_forward(core, x), nam_forward(model, x)
    if name == "core:layer1x1_inactive":
        # An active layer1x1 of zeros adds nothing to the residual: the Core's pass-through.
        cfg = wavenet(array(layer_1x1_config={"active": True}))
        cfg.load_state_dict(model.state_dict(), strict=False)
        with torch.no_grad():
            for layer in cfg._net._layer_arrays[0]._layers:
                layer._layer1x1.weight.zero_()
                layer._layer1x1.bias.zero_()
        return nam_forward(cfg, x), nam_forward(model, x)
    if name == "core:layer1x1_post_film_ungated":
        # The FiLM made the identity (scale 1, shift 0) where the Core skips it: gating none and gated.
        core = copy.deepcopy(model)
        with torch.no_grad():
            for layer, gating in zip(core._net._layer_arrays[0]._layers, GATING_PER_LAYER):
                if not (isinstance(gating, dict) and gating["name"] == "PairBlend"):
                    conv = layer._layer1x1_post_film._film
                    conv.weight.zero_()
                    conv.bias.copy_(torch.cat([torch.ones(conv.out_channels // 2), torch.zeros(conv.out_channels // 2)]))
        return nam_forward(core, x), nam_forward(model, x)
    if name == "core:lstm_unsettled_state":
        # The file as NAM wrote it starts where silence settles: the Core's reading of the edited one.
        return nam_forward(init_from_nam(exported), x), nam_forward(init_from_nam(doc), x)
    raise KeyError(name)


def _unsettle(doc: dict[str, Any]) -> dict[str, Any]:
    """An LSTM file (1 layer) whose stored hidden and cell states are far from the state of silence."""
    hidden = doc["config"]["hidden_size"]
    state = 4 * hidden * (doc["config"]["input_size"] + hidden) + 4 * hidden  # after the cell's matrix and bias
    out = copy.deepcopy(doc)
    out["weights"][state : state + 2 * hidden] = [(-0.9) ** i for i in range(2 * hidden)]
    return out


@dataclass
class Run:
    """One model: its file, NAM's output and wavedil's, and the command lines' results."""

    path: Path
    doc: dict[str, Any] = field(repr=False)
    receptive_field: int | None = None
    want: np.ndarray | None = None
    nam_own: np.ndarray | None = None
    build_error: BaseException | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def outcome(self, key: str) -> Outcome:
        if self.build_error is not None:
            raise self.build_error
        return self.outcomes[key]

    def output(self, key: str = "apply") -> np.ndarray:
        self.outcome(key).check()
        return read_wav(self.path.with_suffix(f".{key}.wav"))


@pytest.fixture(scope="session")
def nam_0_13() -> Any:
    """NAM's package, when version 0.13.0 and torch are installed; the test is skipped otherwise."""
    torch = pytest.importorskip("torch")
    nam = pytest.importorskip("nam")
    if nam.__version__ != "0.13.0":
        pytest.skip(f"these tests pin neural-amp-modeler 0.13.0, found {nam.__version__}")
    torch.set_num_threads(1)
    return nam


@pytest.fixture(scope="session")
def nam013(nam_0_13: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every NAM 0.13 model built, exported, run by NAM and by ``wavedil apply``, once."""
    import torch
    from nam.models._from_nam import init_from_nam
    from nam.models.base import _Base

    folder = tmp_path_factory.mktemp("nam013")
    x = probe_signal()
    src = folder / "input.wav"
    sf.write(src, x, RATE, subtype="FLOAT")
    runs: dict[str, Run] = {}
    with pytest.MonkeyPatch.context() as mp:
        # Export measures loudness and gain by running the model 12 times on 1 s of
        # audio; metadata only (wavedil reports it, never runs it), so a constant.
        mp.setattr(_Base, "_metadata_loudness", lambda self, gain=1.0, db=True: -18.0 if db else 0.1)
        builders = {**AGREED, **CORE, "a2": (a2, 1.0)}
        for seed, (name, (build, gain)) in enumerate(builders.items()):
            path = folder / (name.replace(":", "_") + ".nam")
            try:
                torch.manual_seed(seed)
                model = build()
                randomize(model, seed, gain=gain)
                if name == "a2":
                    model.apply_mask()  # the packed WaveNets' weights that are not their own stay zero
                model.eval()
                model.export(folder, basename=path.stem)
                doc = json.loads(path.read_text())
                run = Run(path, doc, receptive_field=None if name.startswith(("lstm", "core:lstm")) else model.receptive_field)
                if name in CORE:
                    exported = doc
                    if name == "core:lstm_unsettled_state":
                        doc = _unsettle(doc)
                        path.write_text(json.dumps(doc))
                        run.doc = doc
                    run.want, run.nam_own = core_reading(name, model, exported, doc, x)
                elif name.startswith("lstm"):
                    run.want = nam_forward(init_from_nam(doc), x)
                else:
                    run.want = nam_forward(model, x)
            except Exception as exc:  # reported by the tests of this case, not by every test
                run = Run(path, {}, build_error=exc)
            runs[name] = run
            if run.build_error is None:
                run.outcomes["apply"] = in_process(apply_args(src, path, path.with_suffix(".apply.wav"), "--report", str(path.with_suffix(".json"))))
        jobs: dict[str, list[str]] = {}
        for name, (build, _) in REFUSED.items():
            path = folder / (name.replace(":", "_") + ".nam")
            try:
                model = build()
                randomize(model, 99)
                model.export(folder, basename=path.stem)
                runs[name] = Run(path, json.loads(path.read_text()))
                jobs[name] = apply_args(src, path, path.with_suffix(".apply.wav"))
            except Exception as exc:
                runs[name] = Run(path, {}, build_error=exc)
    a2_path = runs["a2"].path
    jobs["a2"] = apply_args(src, a2_path, a2_path.with_suffix(".size.wav"), "--model-size", "0.5")
    for name, outcome in processes(jobs).items():
        runs[name].outcomes["size" if name == "a2" else "apply"] = outcome
    for name in REPORTED:
        if runs[name].build_error is None:
            runs[name].outcomes["report"] = in_process(["report", "--spec", str(runs[name].path)])
    return runs


@pytest.mark.parametrize("name", sorted(AGREED))
def test_matches_nam(nam013, name):
    run = nam013[name]
    assert_matches(run.output(), run.want, name)


def test_a2_container_runs_each_submodel_as_nam(nam013):
    """A2's file is a SlimmableContainer of NAM's two packed WaveNets: max_value 0.5 (3 channels) and 1 (8).

    wavedil runs the full-size one by default (as the plugin does) and the
    0.5 one with ``--model-size 0.5`` (a real process: the option is parsed
    by the installed command line). ``--model-size`` names a submodel by its
    ``max_value``; the Core's ``SetSlimmableSize(v)`` takes the first with
    ``v < max_value``, so the plugin's size 0.5 is the full model.
    """
    run = nam013["a2"]
    assert run.doc["architecture"] == "SlimmableContainer"
    assert [s["max_value"] for s in run.doc["config"]["submodels"]] == [0.5, 1.0]
    assert run.want.shape[0] == 2  # one output row per packed submodel
    assert_matches(run.output(), run.want[1], "A2, default size")
    assert_matches(run.output("size"), run.want[0], "A2, --model-size 0.5")
    assert error(run.output("size"), run.want[1]) > DIVERGES  # the two really differ


@pytest.mark.parametrize("name", sorted(CORE))
def test_core_reading_of_files_where_nam_python_differs(nam013, name):
    """wavedil reads as the Core does, and NAM's Python still reads otherwise (the divergence, documented)."""
    run = nam013[name]
    assert_matches(run.output(), run.want, name)
    assert error(run.nam_own, run.want) > DIVERGES, f"{name}: NAM's Python now reads this file as the Core does"


def test_linear_core_reading_is_the_plain_filter(nam013):
    """The Core's Linear: y[t] = bias + sum_k w[k] x[t-k], weights[0] on the current sample."""
    run = nam013["core:linear_bias"]
    w = np.array(run.doc["weights"], dtype=np.float64)
    x = read_wav(run.path.parent / "input.wav")
    assert_matches(run.output(), lfilter(w[:-1], [1.0], x) + w[-1], "Linear")


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_files_the_core_cannot_run_as_nam_python_does_are_refused(nam013, name):
    run = nam013[name]
    line = error_line(run.outcome("apply"))
    assert run.path.name in line and REFUSED[name][1] in line, line


@pytest.mark.parametrize("name", sorted(set(AGREED) | set(CORE) | {"a2"}))
def test_report_json_of_every_model(nam013, name):
    """``apply --report`` writes the JSON report: NAM's receptive field and rate (an LSTM has none)."""
    run = nam013[name]
    run.output()  # the command succeeded
    report = json.loads(run.path.with_suffix(".json").read_text())
    assert report["receptive_field"] == run.receptive_field
    assert report["sample_rate"] == RATE and report["in_channels"] == 1 and report["out_channels"] == 1
    if name == "a2":
        subs = report["submodels"]
        assert [s["max_value"] for s in subs] == [0.5, 1.0] and [s["active"] for s in subs] == [False, True]


@pytest.mark.parametrize("name", REPORTED)
def test_report_command_on_each_architecture(nam013, name):
    outcome = nam013[name].outcome("report")
    outcome.check()
    assert nam013[name].path.stem in outcome.stdout


#: Arrays of the WaveNets wavedil writes: (channels, kernel_size, dilations, head_size, activation, gated, head_bias).
WAVEDIL_WRITTEN = {
    "standard": [
        (16, 3, tuple(2**i for i in range(10)), 8, "tanh", False, False),
        (8, 3, tuple(2**i for i in range(10)), 1, "tanh", False, True),
    ],
    "gated_relu": [(4, 2, (1, 2, 4, 8), 1, "relu", True, True)],
    "three_arrays": [
        (6, 3, (1, 4, 16), 4, "sigmoid", False, False),
        (4, 2, (1, 2, 8), 3, "hardtanh", False, True),
        (3, 3, (2, 5), 1, "leaky_relu", True, True),
    ],
}


@pytest.mark.parametrize("name", sorted(WAVEDIL_WRITTEN))
def test_files_wavedil_writes_run_in_nam_as_here(nam_0_13, name):
    """The other direction: a WaveNet written by ``to_nam``, read by NAM's ``init_from_nam``."""
    from nam.models._from_nam import init_from_nam

    from wavedil.formats.nam import parse_nam, to_nam
    from wavedil.models.wavenet_flat import ArraySettings, from_flat, seeded_weights

    settings, input_size = [], 1
    for channels, kernel_size, dilations, head_size, activation, gated, head_bias in WAVEDIL_WRITTEN[name]:
        settings.append(ArraySettings(input_size, 1, channels, kernel_size, dilations, activation, gated, head_size, head_bias))
        input_size = channels
    net = from_flat(settings, seeded_weights(settings, len(name)), 0.02 if name == "standard" else 0.7)
    doc = json.loads(json.dumps(to_nam(net)))
    x = probe_signal(9000)
    assert_matches(wavedil.apply(parse_nam(doc), x), nam_forward(init_from_nam(doc), x), name)


# ---------------------------------------------------------------------------
# Committed fixtures: the Core's output, and NAM 0.12.3's files (no NAM needed)


def _fixture_input() -> np.ndarray:
    return np.load(FIXTURES / "input.npy")


@pytest.fixture(scope="module")
def fixture_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Outcome, Path]]:
    """``wavedil apply`` on every committed fixture: "set/name" -> (outcome, output file)."""
    folder = tmp_path_factory.mktemp("fixtures")
    src = folder / "input.wav"
    sf.write(src, _fixture_input(), RATE, subtype="FLOAT")
    runs = {}
    for model in FIXTURES.glob("*/*.nam"):
        out = folder / f"{model.parent.name}_{model.stem}.wav"
        runs[f"{model.parent.name}/{model.stem}"] = (in_process(apply_args(src, model, out)), out)
    return runs


def _fixture_output(fixture_runs, key: str) -> np.ndarray:
    outcome, out = fixture_runs[key]
    outcome.check()
    return read_wav(out)


V0_5 = sorted(p.stem for p in (FIXTURES / "v0_5").glob("*.nam") if p.stem != "linear")
CORE_FIXTURES = sorted(p.stem for p in (FIXTURES / "core").glob("*.nam"))


@pytest.mark.parametrize("name", V0_5)
def test_nam_0_12_3_files_match_nam_0_12_3(fixture_runs, name):
    doc = json.loads((FIXTURES / "v0_5" / f"{name}.nam").read_text())
    assert doc["version"] == "0.5.4"  # the layout NAM 0.13 cannot reload
    want = np.load(FIXTURES / "v0_5" / f"{name}.nam.npy").astype(np.float64)
    assert_matches(_fixture_output(fixture_runs, f"v0_5/{name}"), want, name)


def test_nam_0_12_3_linear_is_read_as_the_core_reads_it(fixture_runs):
    """Linear, 0.5.4: the Core's output (weights[0] on the current sample), not NAM 0.12.3's.

    NAM 0.12.3's Python runs ``weights`` as a PyTorch convolution (weights[-1]
    on the current sample); make_fixtures.py checked that its output differs.
    """
    doc = json.loads((FIXTURES / "v0_5" / "linear.nam").read_text())
    w = np.array(doc["weights"], dtype=np.float64)
    got = _fixture_output(fixture_runs, "v0_5/linear")
    assert_matches(got, np.load(FIXTURES / "v0_5" / "linear.core.npy").astype(np.float64), "Linear 0.5.4, the Core")
    x = _fixture_input().astype(np.float64)
    assert_matches(got, lfilter(w[:-1], [1.0], x) + w[-1], "Linear 0.5.4, the plain filter")
    assert error(got, lfilter(w[-2::-1], [1.0], x) + w[-1]) > DIVERGES  # NAM's Python reading


@pytest.mark.parametrize("name", [f"core:{n}" for n in CORE_FIXTURES])
def test_core_fixtures(fixture_runs, name):
    """Files NAM 0.13 wrote, on which its Python differs from the Core: the Core's own output."""
    stem = name.split(":")[1]
    want = np.load(FIXTURES / "core" / f"{stem}.core.npy").astype(np.float64)
    assert_matches(_fixture_output(fixture_runs, f"core/{stem}"), want, name)


# ---------------------------------------------------------------------------
# File versions


@pytest.mark.parametrize("version", ["0.5.0", "0.5.4", "0.6.0", "0.7.0", "0.7.12"])
def test_versions_the_core_reads_are_read(tmp_path, version):
    """0.5.0 up to any 0.7.x (the Core fully supports 0.7.0 and runs later patch releases)."""
    doc = json.loads((FIXTURES / "v0_5" / "wavenet_gated_relu.nam").read_text())
    path = tmp_path / "m.nam"
    path.write_text(json.dumps({**doc, "version": version}))
    x = _fixture_input()
    want = np.load(FIXTURES / "v0_5" / "wavenet_gated_relu.nam.npy").astype(np.float64)
    assert_matches(wavedil.apply(load_nam(path), x), want, version)


def test_versions_the_core_refuses_are_refused(tmp_path):
    doc = json.loads((FIXTURES / "v0_5" / "wavenet_gated_relu.nam").read_text())
    src = tmp_path / "in.wav"
    sf.write(src, _fixture_input(), RATE, subtype="FLOAT")
    versions = ["0.8.0", "1.0.0", "banana", "0.4.9"]
    jobs = {}
    for i, version in enumerate(versions):
        path = tmp_path / f"capture_{i}.nam"
        path.write_text(json.dumps({**doc, "version": version}))
        jobs[version] = apply_args(src, path, tmp_path / f"out_{i}.wav")
    outcomes = processes(jobs)
    for i, version in enumerate(versions):
        line = error_line(outcomes[version])
        assert f"capture_{i}.nam" in line and version in line, line
        assert not (tmp_path / f"out_{i}.wav").exists()
