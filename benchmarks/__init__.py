"""wavedil's benchmark suite: ``python -m benchmarks`` from the repository root.

Five workloads run through the library's public API, each beside its peers in
the same run (warm, the median of several runs). Benchmarks are not tests:
nothing here asserts a time; the README shows the measured table.
"""
