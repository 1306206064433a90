"""Compiled kernels (Numba): the ``numba`` engine's forward passes.

Each module compiles on first use and caches the machine code on disk
(``cache=True``), so a later process loads it instead of compiling. Importing
a module here imports Numba: only runners built for the ``numba`` engine do
(see :mod:`wavedil.engines`). Kernels are single-threaded; parallelism stays
with worker processes and segments.
"""
