"""The command line starts quickly: a command loads only the modules it needs.

Import costs, not timings, are asserted: which heavy packages a command
imports. The wall-clock figures are measured in the README's benchmark table.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from wavedil.cli.main import COMMANDS, cli

_PROBE = """
import sys
from wavedil.cli.main import main
try:
    main({argv!r})
except SystemExit:
    pass
print("loaded:", " ".join(sorted(m for m in ("numpy", "scipy", "matplotlib", "dask", "soundfile", "numba") if m in sys.modules)), file=sys.stderr)
"""


def _loaded(*argv: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(argv=list(argv))], capture_output=True, text=True)
    return proc.stderr.strip().splitlines()[-1].split()[1:]


def test_help_loads_no_command_and_no_numpy():
    assert _loaded("--help") == []
    assert _loaded("--version") == []


@pytest.mark.parametrize("argv", [("presets",), ("plan", "--target", "1000", "--kernel-size", "3")])
def test_light_commands_load_no_scipy(argv):
    assert not {"scipy", "matplotlib", "dask", "numba"} & set(_loaded(*argv))


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_listed_help_is_the_commands_own(name):
    command = cli.get_command(None, name)  # type: ignore[arg-type]
    assert command is not None and command.get_short_help_str(limit=200) == COMMANDS[name][1]


def test_the_group_lists_every_command_and_only_those(tmp_path):
    from click.testing import CliRunner

    out = CliRunner().invoke(cli, ["--help"]).output
    listed = [line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == sorted(COMMANDS)
    assert CliRunner().invoke(cli, ["nothing"]).exit_code == 2
