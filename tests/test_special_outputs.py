"""An output is never a device, FIFO or socket: with --force, renaming over one would replace the node itself."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from wavedil.cli.main import cli


def _specials(folder):
    fifo = folder / "pipe.wav"
    os.mkfifo(fifo)
    nodes = [fifo]
    try:  # a character device like /dev/null: only root may make one
        os.mknod(folder / "null.wav", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        nodes.append(folder / "null.wav")
    except PermissionError:
        pass
    return nodes


@pytest.mark.parametrize("command", ["apply", "report"])
def test_force_does_not_replace_a_fifo_or_a_device(tmp_path, command):
    sf.write(tmp_path / "in.wav", np.zeros(480), 48000)
    for node in _specials(tmp_path):
        before = os.lstat(node)
        args = ["apply", str(tmp_path / "in.wav"), "-o", str(node)] if command == "apply" else ["report", "--preset", "seed", "-o", str(node)]
        result = CliRunner().invoke(cli, [*args, "--force"])
        assert result.exit_code == 1
        assert result.stderr.strip() == f"Error: {node}: is not a regular file (a FIFO, socket or device); outputs go to regular files ('-' for standard output)"
        after = os.lstat(node)
        assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
