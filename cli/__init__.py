"""The click command-line layer of wavedil (installed as ``wavedil.cli``).

Each command is a module of its own; all of them parse options, call the
library and format its results. No numerics live here. Modules load what
they need when a command runs, so ``wavedil --help`` starts at once.
"""
