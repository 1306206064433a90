"""Options shared by the commands that take a stack, and building it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click

from wavedil.engine import block_size_for
from wavedil.engines import ENGINE_NAMES, Engine
from wavedil.errors import MemoryLimitError, SpecError, WavedilError
from wavedil.memory import parse_size, plan_and_check
from wavedil.presets import DEFAULT_PRESET, PRESETS, preset
from wavedil.spec import load_spec, stack_from_dilations
from wavedil.stack import PADDINGS, Stack


#: A path option's type: the library checks what the path names (a folder where a file is wanted, an
#: unreadable file) and reports it as one error in the input, exit 1, as it does for every other bad file.
#: Click's own checks would make these usage errors (exit 2).
PATH = click.Path(readable=False)


def number_list(kind: type, what: str) -> Callable[[click.Context, click.Parameter, str | None], list[Any] | None]:
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> list[Any] | None:
        if value is None:
            return None
        items = value.replace(" ", "").split(",")
        try:
            # An empty item ("1,,2") is a typo, not nothing: refused like any other.
            numbers = [kind(v) for v in items]
        except ValueError:
            numbers = []
        if not all(math.isfinite(n) for n in numbers):
            raise click.BadParameter(f"expected finite {what}, got {value!r}")
        if not numbers:
            raise click.BadParameter(f"expected comma-separated {what}, got {value!r}")
        return numbers

    return convert


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_size(value)
    except WavedilError as exc:
        if ctx.get_parameter_source(param.name) == click.core.ParameterSource.ENVIRONMENT:
            raise click.BadParameter(f"{exc} (from WAVEDIL_MEMORY_LIMIT)") from None
        raise click.BadParameter(str(exc)) from None


#: ``--memory-limit SIZE`` (or WAVEDIL_MEMORY_LIMIT), parsed to bytes.
memory_limit_option = click.option(
    "--memory-limit",
    metavar="SIZE",
    envvar="WAVEDIL_MEMORY_LIMIT",
    callback=_size,
    help="Most memory a run may plan to use, e.g. 4G or 512M (env WAVEDIL_MEMORY_LIMIT) "
    "[default: half the physical memory, at most 8 GiB].",
)


def engine_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --engine and --fast-tanh (the keywords ``engine`` and ``fast_tanh``); the library resolves them.

    Without --engine the library reads WAVEDIL_ENGINE (a bad value there is a
    usage error naming the variable), else takes ``auto``.
    """
    options = [
        click.option(
            "--engine",
            type=click.Choice(ENGINE_NAMES, case_sensitive=False),
            help="What computes the layers: numba (compiled kernels, the 'fast' extra: pip install \"wavedil[fast]\"), "
            "numpy, or auto (numba when installed, for WaveNets, LSTMs and multi-channel tanh-like layers) [default: env WAVEDIL_ENGINE, else auto].",
        ),
        click.option(
            "--fast-tanh",
            is_flag=True,
            help="NAM's plugin tanh approximation (within 4e-4 of tanh): what the plugin's users hear [default: accurate tanh].",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def check_stack_memory(stack: Stack, source: str | None, *, dtype: str, block_size: int | None, limit: int | None, engine: Engine) -> None:
    """Refuse at once a stack that cannot run within ``limit`` on ``engine`` even on one channel (its histories alone)."""
    try:
        plan_and_check(stack, stack.in_channels, dtype=dtype, block_size=block_size or block_size_for(stack), limit=limit, engine=engine)
    except MemoryLimitError as exc:
        raise exc.prefixed(source or "the stack") from None


#: The options that add a stage to the chain, in the order given (see :class:`ChainCommand`).
STAGE_OPTIONS = ("spec_path", "preset_name", "gain", "ir", "kernel_size", "dilations", "taps")
_SHORTHAND = ("kernel_size", "dilations", "taps")


class ChainCommand(click.Command):
    """A command whose stage options keep their order on the command line.

    Click gathers each repeated option's values apart; the parser's record of
    which option came when is read here and kept in ``ctx.meta``, so
    ``--gain 6 --spec amp.nam --ir cab.wav --gain -3`` runs in that order.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        parser = self.make_parser(ctx)
        _, _, order = parser.parse_args(args=list(args))
        ctx.meta["wavedil.stage_order"] = [p.name for p in order if p.name in STAGE_OPTIONS]
        return super().parse_args(ctx, args)


def _gain_db(ctx: click.Context, param: click.Parameter, value: tuple[float, ...]) -> tuple[float, ...]:
    from wavedil.gains import MAX_GAIN_DB

    for db in value:
        if not math.isfinite(db) or abs(db) > MAX_GAIN_DB:
            raise click.BadParameter(f"a gain is a finite number of dB within +-{MAX_GAIN_DB:g}, got {db}")
    return value


def stack_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the stage options (--spec, --preset, --gain, --ir, repeatable, in order; --kernel-size --dilations --taps --stacks) and --padding.

    The command must be a :class:`ChainCommand`.
    """
    options = [
        click.option(
            "--spec",
            "spec_path",
            type=PATH,
            multiple=True,
            help="A stage: a stack spec (.toml, .json), a chain file, or a Neural Amp Modeler capture (.nam). Repeatable; stages run in the order given.",
        ),
        click.option("--preset", "preset_name", metavar="NAME", multiple=True, help="A stage: a named stack (see 'wavedil presets'). Repeatable."),
        click.option(
            "--gain",
            type=float,
            multiple=True,
            metavar="DB",
            callback=_gain_db,
            help="A stage: a gain in dB (negative cuts), e.g. the input and output knobs around a capture. Repeatable.",
        ),
        click.option(
            "--ir",
            type=PATH,
            multiple=True,
            metavar="FILE",
            help="A stage: convolve with the impulse response in an audio file (a cabinet), mono or one channel per channel, "
            "resampled to the audio's rate when they differ. Repeatable.",
        ),
        click.option("--ir-normalize", is_flag=True, help="Scale each --ir response to unit energy."),
        click.option("--kernel-size", type=click.IntRange(min=1), help="Shorthand: taps per layer (uniform 1/K)."),
        click.option("--dilations", callback=number_list(int, "integers"), metavar="D1,D2,...", help="Shorthand: dilation of each layer."),
        click.option("--taps", callback=number_list(float, "numbers"), metavar="W0,W1,...", help="Shorthand: the taps of every layer (w0 meets the current sample)."),
        click.option("--stacks", type=click.IntRange(min=1), default=1, show_default=True, help="Shorthand: repeat the dilations N times."),
        click.option("--padding", type=click.Choice(PADDINGS), help="Edge rule (overrides the spec's): causal or same."),
        click.option(
            "--model-size",
            type=click.FloatRange(0.0, 1.0),
            metavar="VALUE",
            help="With a SlimmableContainer .nam (A2): run the smallest submodel whose max_value is at least VALUE "
            "[default: the full-size one].",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _shorthand_name(kernel_size: int | None, dilations: list[int], taps: list[float] | None, stacks: int) -> str:
    parts = [f"taps {','.join(f'{t:g}' for t in taps)}" if taps else f"kernel {kernel_size}"]
    parts.append(f"dilations {','.join(map(str, dilations))}")
    if stacks > 1:
        parts.append(f"x{stacks}")
    return " ".join(parts)


def build_stack(
    *,
    spec_path: tuple[str, ...] = (),
    preset_name: tuple[str, ...] = (),
    gain: tuple[float, ...] = (),
    ir: tuple[str, ...] = (),
    ir_normalize: bool = False,
    kernel_size: int | None,
    dilations: list[int] | None,
    taps: list[float] | None,
    stacks: int,
    padding: str | None,
    model_size: float | None = None,
    default_preset: str | None = DEFAULT_PRESET,
) -> Stack:
    """The stack (or chain of stages) the options describe, stages in the order given; ``default_preset`` when none is given."""
    from wavedil.chains import chain

    order = _stage_order(spec_path, preset_name, gain, ir, kernel_size, dilations, taps)
    if stacks != 1 and dilations is None:
        raise click.UsageError("--stacks goes with --dilations")
    if ir_normalize and not ir:
        raise click.UsageError("--ir-normalize goes with --ir")
    values = {"spec_path": list(spec_path), "preset_name": list(preset_name), "gain": list(gain), "ir": list(ir)}
    stages: list[Stack] = []
    for option in order:
        if option in _SHORTHAND:
            stages.append(_shorthand(kernel_size, dilations, taps, stacks, padding))
        elif option == "spec_path":
            stages.append(load_spec(values[option].pop(0), model_size=model_size, padding=padding))
        elif option == "preset_name":
            stages.append(_preset(values[option].pop(0)))
        elif option == "gain":
            from wavedil.gains import gain as gain_stage

            stages.append(gain_stage(values[option].pop(0)))
        else:
            from wavedil.impulses import ir as ir_stage

            stages.append(ir_stage(values[option].pop(0), normalize=ir_normalize))
    if not stages:
        stages.append(_preset(default_preset))
    if model_size is not None and not any(stage.submodels for stage in stages):
        raise click.UsageError("--model-size chooses a submodel of a SlimmableContainer .nam file (an A2 capture); this stack has none")
    if len(stages) == 1:
        stack = stages[0]
        return stack.replace(padding=padding) if padding and padding != stack.padding else stack
    try:
        return chain(*stages, padding=padding)
    except SpecError as exc:
        if "padding 'same'" in exc.reason:
            raise click.UsageError(f"{exc.reason}: --padding causal or --padding same") from None
        raise


def stack_files(kw: dict[str, Any], stack: Stack | None = None) -> list[str]:
    """The files the stage options name (specs and models, then IRs) and a chain file's stages name: inputs no output may replace."""
    return [*kw.get("spec_path", ()), *kw.get("ir", ()), *(s.source for s in (stack.stages if stack else ()) if s.source)]


def files_with_flags(files: list[str]) -> list[tuple[str, str]]:
    """Each of :func:`stack_files` with what named it, for messages: ``--ir``, ``--spec`` or a chain file."""
    ctx = click.get_current_context(silent=True)
    irs = set(ctx.params.get("ir", ())) if ctx is not None else set()
    specs = set(ctx.params.get("spec_path", ())) if ctx is not None else set()
    return [(f, "--ir" if f in irs else "--spec" if f in specs else "chain file's stage") for f in files]


def _stage_order(
    spec_path: tuple[str, ...], preset_name: tuple[str, ...], gain: tuple[float, ...], ir: tuple[str, ...],
    kernel_size: int | None, dilations: list[int] | None, taps: list[float] | None,
) -> list[str]:
    """The stage options in the order given on the command line; the shorthand (one stage) at its first option.

    Called from Python without a command line, the order is that of the
    parameters: specs, presets, gains, IRs, then the shorthand.
    """
    ctx = click.get_current_context(silent=True)
    given = ctx.meta.get("wavedil.stage_order") if ctx is not None else None
    if given is None:
        given = ["spec_path"] * len(spec_path) + ["preset_name"] * len(preset_name) + ["gain"] * len(gain) + ["ir"] * len(ir)
        given += [name for name, value in (("kernel_size", kernel_size), ("dilations", dilations), ("taps", taps)) if value is not None]
    for name, flag in (("kernel_size", "--kernel-size"), ("dilations", "--dilations"), ("taps", "--taps")):
        if given.count(name) > 1:
            raise click.UsageError(f"{flag} given {given.count(name)} times: the shorthand makes one stage (use a spec file for another)")
    order: list[str] = []
    for name in given:
        if name in _SHORTHAND:
            if any(o in _SHORTHAND for o in order):
                continue
        order.append(name)
    return order


def _preset(name: str | None) -> Stack:
    """The preset ``--preset`` names (or the command's default); an unknown name is a usage mistake."""
    if name is None:
        raise click.UsageError(f"give a stack: --spec PATH, --preset NAME (one of {', '.join(PRESETS)}) or --dilations")
    if name not in PRESETS:
        raise click.BadParameter(f"unknown preset {name!r}; known: {', '.join(PRESETS)}", param_hint="'--preset'")
    return preset(name)


def _shorthand(kernel_size: int | None, dilations: list[int] | None, taps: list[float] | None, stacks: int, padding: str | None) -> Stack:
    """The stack of ``--dilations`` with ``--kernel-size`` or ``--taps``; a value out of range is a usage mistake (exit 2)."""
    if dilations is None:
        raise click.UsageError("--kernel-size and --taps need --dilations")
    try:
        return stack_from_dilations(
            dilations,
            kernel_size=kernel_size,
            taps=taps,
            stacks=stacks,
            padding=padding or "causal",
            name=_shorthand_name(kernel_size, dilations, taps, stacks),
        )
    except SpecError as exc:
        option = f"--{(exc.field or 'dilations').replace('_', '-')}"
        raise click.BadParameter(exc.reason, param_hint=f"'{option}'") from None
