"""Kernels compiled ahead of time (``wavedil compile``) against the same kernels from Numba's compiler.

The module is built once for this file (about a minute), with the command a
user runs; each model then runs in a fresh process that finds it, and must
give Numba's output without importing Numba.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import wavedil
from cli.main import cli
from wavedil import engines
from wavedil.kernels import exports

HAS_NUMBA = engines.numba_installed()
needs_numba = pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed (the 'fast' extra)")
HAS_COMPILER = any(shutil.which(name) for name in ("cc", "gcc", "clang"))
NAM = Path(__file__).resolve().parent / "fixtures" / "nam" / "v0_5"

#: Every kind of compiled runner: WaveNet arrays (plain, gated ReLU, three arrays), the LSTM, a ConvNet's
#: plain convolutions, a fused mono chain (a preset's layers under --engine numba).
MODELS = ["nam:wavenet_a1_nano", "nam:wavenet_gated_relu", "nam:wavenet_three_arrays", "nam:lstm", "nam:convnet", "preset:drive"]


def load(model: str) -> wavedil.Stack:
    kind, name = model.split(":")
    return wavedil.load_spec(NAM / f"{name}.nam") if kind == "nam" else wavedil.preset(name)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not HAS_COMPILER:
        pytest.skip("no C compiler to link the module")
    directory = tmp_path_factory.mktemp("kernels with a space")
    result = CliRunner().invoke(cli, ["compile", "--dir", str(directory)])
    assert result.exit_code == 0, result.output
    assert "10 kernels compiled" in result.output and f"WAVEDIL_KERNELS_DIR={shlex.quote(str(directory))}" in result.output
    # The module and its checksum, and nothing else: the build's temporary folder is gone.
    name = exports.module_path(directory).name
    assert sorted(p.name for p in directory.iterdir()) == [name, name + exports.CHECKSUM_SUFFIX]
    return directory


@pytest.fixture
def jit_only(monkeypatch, tmp_path):
    """This process takes its kernels from Numba's compiler (an empty module folder), whatever the user built."""
    monkeypatch.setenv(exports.DIRECTORY_VARIABLE, str(tmp_path / "none"))
    exports.ahead_of_time.cache_clear()
    yield monkeypatch
    exports.ahead_of_time.cache_clear()


_RUN = """
import json, sys
import numpy as np
import wavedil
sys.path.insert(0, sys.argv[1])
from test_kernels_aot import MODELS, load
from wavedil.kernels import exports
x = (np.random.default_rng(5).standard_normal(6000) * 0.4).astype(np.float32)
out = {}
for model in MODELS:
    for dtype in ("float32", "float64"):
        for fast in (False, True):
            out[f"{model}|{dtype}|{fast}"] = wavedil.apply(load(model), x, dtype=dtype, engine="numba", fast_tanh=fast)
np.savez(sys.argv[2], **out)
sources = sorted({exports.source(name, dtype) for name in exports.EXPORTS for dtype in exports.EXPORTS[name][1]})
print(json.dumps({"numba_imported": "numba" in sys.modules, "sources": sources}))
"""


def run_with(directory: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, exports.DIRECTORY_VARIABLE: str(directory)}
    env.pop("WAVEDIL_ENGINE", None)
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=Path(__file__).parent.parent)


@needs_numba
def test_every_compiled_runner_gives_numbas_output_without_importing_numba(built, jit_only, tmp_path):
    proc = run_with(built, _RUN, str(Path(__file__).parent), str(tmp_path / "aot.npz"))
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout.splitlines()[-1])
    assert facts == {"numba_imported": False, "sources": ["ahead-of-time"]}
    aot = np.load(tmp_path / "aot.npz")
    x = (np.random.default_rng(5).standard_normal(6000) * 0.4).astype(np.float32)
    assert len(aot.files) == len(MODELS) * 4
    for key in aot.files:
        model, dtype, fast = key.split("|")
        jit = wavedil.apply(load(model), x, dtype=dtype, engine="numba", fast_tanh=fast == "True")
        peak = np.max(np.abs(jit))
        assert peak > 0 and aot[key].shape == jit.shape, key
        # The same code, compiled with the same options for the same CPU by two compilers whose
        # machine code differs in places: the last bits may differ (a few float32 ulps, grown through
        # a ConvNet's layers to 1.1e-6 of its peak), nothing more.
        assert np.max(np.abs(aot[key] - jit)) <= (1e-5 if dtype == "float32" else 1e-12) * peak, key


@needs_numba
def test_a_kernel_from_the_module_refuses_arguments_of_the_wrong_kind(built):
    """The extension module trusts its caller (a wrong dtype would crash the process): the wrapper checks.

    A read-only input is fine; a read-only array the kernel writes is refused.
    """
    code = (
        "import numpy as np\n"
        "from wavedil.kernels import exports\n"
        "k = exports.kernel('conv.conv', 'float32')\n"
        "f32, i64 = np.zeros(8, np.float32), np.zeros(1, np.int64)\n"
        "good = (f32, 8, 8, f32.copy(), 8, 8, 8, f32.copy(), i64, np.zeros((1, 1, 2), np.float32), np.zeros(1, np.float32), 1, 0, np.zeros(4))\n"
        "k(*good)\n"
        "ro = np.zeros(8, np.float32)\n"
        "ro.flags.writeable = False\n"
        "k(ro, *good[1:])\n"
        "for i, bad in ((0, np.zeros(8)), (9, np.zeros((1, 1, 4), np.float32)[..., ::2]), (3, [0.0] * 8), (1, 8.5), (3, ro)):\n"
        "    try:\n"
        "        k(*good[:i], bad, *good[i + 1:])\n"
        "        print('accepted', i)\n"
        "    except TypeError:\n"
        "        print('refused', i)\n"
        "try:\n"
        "    k(*good[:-1])\n"
        "except TypeError as e:\n"
        "    print(e)\n"
    )
    proc = run_with(built, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["refused 0", "refused 9", "refused 3", "refused 1", "refused 3", "kernel conv.conv takes 14 arguments, got 13"]


@needs_numba
def test_the_modules_name_changes_with_the_kernels_sources(monkeypatch, tmp_path):
    copy = tmp_path / "kernels"
    shutil.copytree(Path(exports.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(exports, "_HERE", copy)
    exports.fingerprint.cache_clear()
    try:
        before = exports.module_name()
        tanh = copy / "tanh.py"
        tanh.write_text(tanh.read_text() + "\n# changed\n")
        exports.fingerprint.cache_clear()
        after = exports.module_name()
    finally:
        exports.fingerprint.cache_clear()
    assert before != after and before is not None and after is not None
    assert before.startswith("wavedil_kernels_")


@needs_numba
@pytest.mark.parametrize("kind", ["fifo", "folder", "garbage", "empty", "no checksum"])
def test_a_module_path_that_is_not_a_loadable_file_counts_as_absent(jit_only, tmp_path, kind):
    jit_only.setenv(exports.DIRECTORY_VARIABLE, str(tmp_path))
    path = exports.module_path()
    assert path is not None and path.parent == tmp_path
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        data = b"" if kind == "empty" else b"\x7fELF not really" * 64
        path.write_bytes(data)
        if kind != "no checksum":
            (tmp_path / (path.name + exports.CHECKSUM_SUFFIX)).write_text(hashlib.sha256(data).hexdigest())
    exports.ahead_of_time.cache_clear()
    assert exports.ahead_of_time() is None
    assert exports.source("wavenet.array_block", "float32") == "numba-jit"
    assert exports.kernel("conv.conv", "float32") is __import__("wavedil.kernels.conv", fromlist=["conv"]).conv


@needs_numba
@pytest.mark.parametrize("damage", ["cut in half", "one byte changed", "world-writable file", "world-writable folder"])
def test_a_damaged_or_exposed_module_is_not_loaded(built, tmp_path, damage):
    """Loading a cut file would crash the process (a bus error), not raise: its checksum keeps it out."""
    name = exports.module_path(built).name
    folder = tmp_path / "k"
    folder.mkdir()
    data = (built / name).read_bytes()
    shutil.copy(built / (name + exports.CHECKSUM_SUFFIX), folder)
    if damage == "cut in half":
        data = data[: len(data) // 2]
    elif damage == "one byte changed":
        data = data[:1000] + bytes([data[1000] ^ 1]) + data[1001:]
    (folder / name).write_bytes(data)
    if damage == "world-writable file":
        os.chmod(folder / name, 0o666)
    elif damage == "world-writable folder":
        os.chmod(folder, 0o777)
    code = "from wavedil.kernels import exports\nprint(exports.ahead_of_time() is None)\n"
    proc = run_with(folder, code)
    assert proc.returncode == 0 and proc.stdout.split() == ["True"], proc.stderr
    shutil.copy(built / name, folder / name)  # the intact module beside its checksum loads
    if damage == "world-writable folder":
        os.chmod(folder, 0o755)
    os.chmod(folder / name, 0o644)
    assert run_with(folder, code).stdout.split() == ["False"]


@needs_numba
def test_a_filter_on_the_modules_kernels_pickles_and_runs_the_same(built):
    code = (
        "import pickle, sys\n"
        "import numpy as np, wavedil\n"
        f"stack = wavedil.load_spec({str(NAM / 'wavenet_a1_nano.nam')!r})\n"
        "x = (np.random.default_rng(1).standard_normal((4000, 1)) * 0.3).astype(np.float32)\n"
        "f = wavedil.StreamingFilter(stack, 1, engine='numba')\n"
        "g = pickle.loads(pickle.dumps(f))\n"
        "print(np.array_equal(f.process(x), g.process(x)), 'numba' in sys.modules)\n"
    )
    proc = run_with(built, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "False"]


@needs_numba
def test_compile_into_a_file_or_an_empty_path_is_one_error_line(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("x")
    result = CliRunner().invoke(cli, ["compile", "--dir", str(target)])
    assert result.exit_code == 1 and result.output.strip() == f"Error: {target}: not a folder"
    result = CliRunner().invoke(cli, ["compile", "--dir", ""])
    assert result.exit_code == 1 and result.output.strip() == "Error: the folder for the kernels is an empty path"
    with pytest.raises(wavedil.KernelBuildError, match="empty path"):
        wavedil.compile_kernels("")


@needs_numba
def test_a_build_that_fails_says_why_in_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    """No C compiler: pycc's own error, condensed to one line; the build's temporary folder is removed."""
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    result = CliRunner().invoke(cli, ["compile", "--dir", str(tmp_path / "k")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {tmp_path / 'k'}: compiling the kernels failed (")
    assert list((tmp_path / "k").iterdir()) == []


def test_folders_of_killed_builds_are_removed_once_an_hour_old(tmp_path):
    """kill -9 leaves a build's temporary folder; the next build removes it, but not one still in use."""
    from wavedil.kernels.build import remove_abandoned

    old, fresh, other = tmp_path / ".wavedil-kernels-old", tmp_path / ".wavedil-kernels-now", tmp_path / "kept"
    for folder in (old, fresh, other):
        (folder / "tmp").mkdir(parents=True)
    two_hours_ago = fresh.stat().st_mtime - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    os.utime(other, (two_hours_ago, two_hours_ago))
    assert remove_abandoned(tmp_path) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".wavedil-kernels-now", "kept"]


@pytest.mark.skipif(HAS_NUMBA, reason="numba is installed")
def test_compile_without_numba_says_what_to_install(tmp_path):
    result = CliRunner().invoke(cli, ["compile", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == 'Error: compiling the kernels needs numba (pip install "wavedil[fast]")'
    assert exports.kernel_directory() is not None and exports.module_name() is None
