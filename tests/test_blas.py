"""The engine runs its BLAS on one thread, scoped, whatever the caller's setting."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import wavedil
from wavedil.blas import one_blas_thread


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_the_limit_holds_inside_and_the_callers_setting_comes_back():
    with threadpool_limits(limits=2, user_api="blas"):
        assert set(_blas_threads()) == {2}
        with one_blas_thread():
            assert set(_blas_threads()) == {1}
            with one_blas_thread():  # nested: still one thread, not restored early
                pass
            assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {2}


_SCRIPT = """
import sys
import numpy as np
import wavedil
x = np.random.default_rng(7).normal(0, 0.3, 48000).astype(np.float32)
y = wavedil.apply(wavedil.preset("wavenet"), x, block_size=1024)
sys.stdout.buffer.write(y.tobytes())
"""


def test_a_plain_script_gets_the_command_lines_bytes_whatever_its_blas_threads():
    # OpenBLAS rounds a 32-channel GEMM differently on 2 threads than on 1: without the engine's own
    # limit, a script left at the BLAS default and the command line (one thread) differed.
    outputs = []
    for threads in ("2", "1"):
        env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
        env["OPENBLAS_NUM_THREADS"] = threads
        proc = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, check=True)
        outputs.append(proc.stdout)
    assert len(outputs[0]) == 48000 * 4 and outputs[0] == outputs[1]
    x = np.random.default_rng(7).normal(0, 0.3, 48000).astype(np.float32)
    assert wavedil.apply(wavedil.preset("wavenet"), x, block_size=1024).tobytes() == outputs[0]
