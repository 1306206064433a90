"""wavedil's benchmark suite: run ``python -m benchmarks`` from the repository root.

The workloads run through wavedil's public API, each beside its peers in the
same run; every time is the median of at least three warm runs, wavedil's
engines (numba when installed, and NumPy) and the peers taken in turns::

    python -m benchmarks                  # all workloads, a table
    python -m benchmarks --only W1,W3     # a subset
    python -m benchmarks --json           # one JSON object per line per workload
    python -m benchmarks --nam-core o3=DIR  # NAM's C++ engine too: DIR is a build folder of
                                          # your NeuralAmpModelerCore checkout's tools

=== ======================================================= =====================================
W1  linear mono stack, kernel 2, dilations 1..4096 (RF 8192), ≥ 5x faster than warm
    10 min of 48 kHz audio                                   scipy.signal.oaconvolve
W2  the standard NAM capture shape (2 arrays x 10 layers),   ≥ NAM Core's fast tanh and ≥ 2.5x its
    60 s at 48 kHz                                           exact tanh (≥ 45x real time without it)
W3  the ``wavenet`` preset (the WaveNet paper's shape),      numba ≥ 2x the NumPy engine
    20 s at 16 kHz, the paper's rate                         (≥ 4.5x real time without numba)
W4  W2 on two worker processes                              ≥ 1.8x one worker, identical output
W5  W1's stack on a one-hour stereo 48 kHz file through      peak RSS ≤ 200 MB
    ``python -m wavedil apply`` in a child process
W6  NAM 0.13's A2 at full size (23 layers, 8 channels,       ≥ NAM Core (≥ 10x real time without it)
    kernels 6 and 15), 60 s at 48 kHz
W7  an LSTM of the Core's example shape (hidden 3),          ≥ NAM Core, exact and fast tanh
    60 s at 48 kHz                                           (≥ 1x real time without it)
W8  ``wavedil`` commands in fresh processes: ``--help``,     ≤ 0.3 s for the first three,
    ``presets``, a small report; reports of long stacks      ≤ 2 s for each report
W9  W2's stack from a plain Python script (no thread         ≤ 1.2x the command line's time
    variables) beside ``wavedil apply -j 1`` on 10 s
W10 numba's compile overhead on the standard capture, fresh  < 10 s the first time, < 0.5 s in a
    processes: an empty cache, the cache it filled, and the  later process
    kernels compiled ahead of time (``wavedil compile``)
=== ======================================================= =====================================

NAM's PyTorch reference is a peer of W2, W3, W6 and W7 when ``torch`` and
``neural-amp-modeler`` are installed; NAM's C++ engine (NeuralAmpModelerCore,
the plugin's) when ``--nam-core`` names a build of its tools (see
:mod:`benchmarks.nam_core`). Both are reported absent otherwise. Without
numba, only the NumPy engine is timed and W10 is skipped.

Everything runs on one thread unless a workload says otherwise: ``__main__``
sets the BLAS/OpenMP thread variables before NumPy loads and the PyTorch peer
calls ``torch.set_num_threads(1)``.

W5 writes about 1.4 GB of temporary WAV files (removed afterwards) in the
system's temporary folder, or in ``$WAVEDIL_BENCH_TMP`` when that is set.

Benchmarks are not tests: nothing here fails on a slow time; the table says
whether each target holds.

This module must not import NumPy (or anything that does): it runs before
``__main__`` has set the thread variables.
"""
