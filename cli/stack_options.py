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


def stack_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --spec / --preset / --kernel-size --dilations --taps --stacks / --padding."""
    options = [
        click.option("--spec", "spec_path", type=PATH, help="A stack spec file (.toml or .json) or a Neural Amp Modeler capture (.nam)."),
        click.option("--preset", "preset_name", metavar="NAME", help="A named stack (see 'wavedil presets')."),
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
    spec_path: str | None,
    preset_name: str | None,
    kernel_size: int | None,
    dilations: list[int] | None,
    taps: list[float] | None,
    stacks: int,
    padding: str | None,
    model_size: float | None = None,
    default_preset: str | None = DEFAULT_PRESET,
) -> Stack:
    """The stack the options describe; ``default_preset`` when none is given."""
    shorthand = dilations is not None or taps is not None or kernel_size is not None
    chosen = [name for name, on in (("--spec", spec_path), ("--preset", preset_name), ("--dilations", shorthand)) if on]
    if len(chosen) > 1:
        raise click.UsageError(f"give one stack: {' or '.join(chosen)}, not several")
    if stacks != 1 and not shorthand:
        raise click.UsageError("--stacks goes with --dilations")
    if spec_path:
        stack = load_spec(spec_path, model_size=model_size)
    elif shorthand:
        stack = _shorthand(kernel_size, dilations, taps, stacks, padding)
    else:
        stack = _preset(preset_name or default_preset)
    if model_size is not None and not stack.submodels:
        raise click.UsageError("--model-size chooses a submodel of a SlimmableContainer .nam file (an A2 capture); this stack has none")
    if padding and padding != stack.padding:
        stack = stack.replace(padding=padding)
    return stack


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
