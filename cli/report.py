"""``wavedil report``: the receptive-field report of a stack, without filtering audio."""

from __future__ import annotations

import click

from wavedil.coverage import MAX_GRAPH_CELLS, graph_cells
from wavedil.diagram import DEFAULT_WIDTH, render_tree
from wavedil.engines import resolve_engine
from wavedil.errors import WavedilError
from wavedil.limits import MAX_SAMPLE_RATE
from wavedil.probe import PROBE_SECONDS
from wavedil.receptive import FALLBACK_SAMPLE_RATE, analyze
from wavedil.report import FORMAT_NAMES, format_name, render
from wavedil.stack import Stack

from .errors import option_for
from .stack_options import PATH, ChainCommand, build_stack, engine_options, files_with_flags, memory_limit_option, number_list, stack_files, stack_options

#: Widest dilation tree: more columns than any screen or page shows, and each costs time per layer.
MAX_DIAGRAM_WIDTH = 10_000


@click.command("report", cls=ChainCommand)
@stack_options
@click.option("--sample-rate", type=click.IntRange(1, MAX_SAMPLE_RATE), metavar="HZ", help="Sample rate for the millisecond figures (default: a model's own).")
@click.option("--format", "fmt", type=click.Choice(list(FORMAT_NAMES)), default="text", show_default=True, help="Output format (md = markdown, txt = text).")
@click.option("-o", "--output", type=PATH, help="Write the report to a file instead of stdout ('-': stdout).")
@click.option("--force", is_flag=True, help="Replace an existing --output or --plot file.")
@click.option("--freq", "frequencies", callback=number_list(float, "numbers"), metavar="HZ,HZ,...", help="Frequencies for the gain table of linear stacks.")
@click.option("--audio", "audio_path", type=PATH, help="Average the effective receptive field of a nonlinear stack over this file (seeded noise otherwise).")
@click.option("--speed", is_flag=True, help="Also measure the engine's throughput on this machine.")
@click.option("--diagram", is_flag=True, help="Print the dilation tree of one output sample (text format).")
@click.option("--diagram-width", type=click.IntRange(8, MAX_DIAGRAM_WIDTH), default=DEFAULT_WIDTH, show_default=True, help="Columns of the dilation tree.")
@click.option(
    "--probe-seconds",
    type=click.FloatRange(min=0.0, max=1e9),
    default=PROBE_SECONDS,
    show_default=True,
    metavar="SECONDS",
    help="Estimated time each probe of the engine (measured and effective fields, memory, speed) may take; "
    "longer probes are shortened or skipped, as the report says.",
)
@memory_limit_option
@engine_options
@click.option("--plot", "plot_path", type=PATH, help="Draw the tree, the effective field and the frequency response to a .png or .svg (needs wavedil[plot]).")
def report_command(
    sample_rate: int | None,
    fmt: str,
    output: str | None,
    force: bool,
    frequencies: list[float] | None,
    audio_path: str | None,
    speed: bool,
    diagram: bool,
    diagram_width: int,
    plot_path: str | None,
    probe_seconds: float,
    memory_limit: int | None,
    engine: str | None,
    fast_tanh: bool,
    **stack_kw,
) -> None:
    """Print the receptive-field report of a stack.

    With no stack option the default preset is reported.

    \b
    Examples:
      wavedil report --kernel-size 3 --dilations 1,2,4 --diagram
      wavedil report --spec stack.toml --sample-rate 48000 --format json
      wavedil report --spec capture.nam --speed --plot capture.png
    """
    output = None if output == "-" else output  # '-' is standard output, as for apply
    if engine is not None and not speed:
        # The figures come from the NumPy reference; only --speed runs the chosen engine.
        raise click.UsageError("--engine chooses what --speed times; without --speed it does nothing")
    # Resolved first: an engine that cannot run is a usage mistake, found before any work.
    chosen = resolve_engine(engine, fast_tanh=fast_tanh)
    stack = build_stack(**stack_kw)
    _check_targets(stack_files(stack_kw, stack), output=output, plot_path=plot_path)
    if stack.is_recurrent and (diagram or plot_path):
        raise click.UsageError("a recurrent model (LSTM) has no dilation tree: --diagram and --plot need a finite receptive field")
    if (diagram or plot_path) and graph_cells(stack) > MAX_GRAPH_CELLS:
        raise WavedilError(
            f"{' '.join(stack_kw.get('spec_path', ())) or 'the stack'}: its dilation tree has {graph_cells(stack):,} signal-offsets, "
            f"over the {MAX_GRAPH_CELLS:,} that --diagram and --plot draw"
        )
    _check_frequencies(stack, sample_rate, frequencies)
    report = analyze(
        stack,
        sample_rate,
        audio=audio_path,
        frequencies=frequencies,
        speed=speed,
        probe_seconds=probe_seconds,
        memory_limit=memory_limit,
        engine=chosen,
    )
    fmt = format_name(fmt)
    text = render(report, fmt, option=option_for)
    if diagram:
        if fmt != "text":
            raise click.UsageError("--diagram goes with --format text")
        text += "\n" + render_tree(stack, diagram_width) + "\n"
    if plot_path:
        from wavedil.plot import plot_stack

        plot_stack(stack, report, plot_path, force=force)
    if output:
        from wavedil.audio import write_text

        write_text(output, text, force=force)
    else:
        click.echo(text, nl=False)


def _check_targets(files: list[str], *, output: str | None, plot_path: str | None) -> None:
    """Refuse a report or plot path that is a stage's file (a spec, a model, an IR)."""
    if not files or not (output or plot_path):
        return
    # Loaded only for files: a report to stdout starts without the audio modules.
    from wavedil.audio import same_file

    for stage_file, flag in files_with_flags(files):
        for path, what in ((output, "-o"), (plot_path, "--plot")):
            if path and same_file(path, stage_file):
                raise WavedilError(f"{path}: {what} would replace the {flag} file; choose another path")


def _check_frequencies(stack: Stack, sample_rate: int | None, frequencies: list[float] | None) -> None:
    """Refuse ``--freq`` where its table cannot appear: a nonlinear stack, or a frequency past Nyquist."""
    if not frequencies:
        return
    if not stack.is_linear:
        raise click.UsageError("--freq gives gains of a linear stack; this one is nonlinear (it has no frequency response)")
    rate = stack.sample_rate or sample_rate or stack.rate or FALLBACK_SAMPLE_RATE
    if min(frequencies) < 0:
        raise click.BadParameter(f"{min(frequencies):g} Hz: a frequency is 0 Hz or more", param_hint="'--freq'")
    if max(frequencies) > rate / 2:
        assumed = "" if stack.rate or sample_rate else " (assumed; --sample-rate sets it)"
        raise click.BadParameter(f"{max(frequencies):g} Hz is beyond Nyquist, {rate / 2:g} Hz at {rate:,} Hz{assumed}", param_hint="'--freq'")
