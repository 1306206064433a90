"""Library errors in the command line's words: its option names, its exit codes.

The library names a remedy as a :class:`~wavedil.errors.Setting` (a Python
keyword such as ``overwrite=True``); here it becomes the option that sets it
(``--force``). A :class:`~wavedil.errors.UsageError` (arguments that cannot
work together) exits 2 like click's own usage errors; every other error in the
data exits 1.
"""

from __future__ import annotations

import click

from wavedil.errors import Setting, UsageError, WavedilError

#: Settings whose option is not simply ``--`` + the keyword with dashes.
_OPTIONS = {
    "overwrite": "--force",
    "memory_limit": "--memory-limit (or WAVEDIL_MEMORY_LIMIT)",
}


def option_for(setting: Setting) -> str:
    """The command-line spelling of ``setting``: ``block_size=512`` -> ``--block-size 512``.

    >>> option_for(Setting("block_size", 512))
    '--block-size 512'
    >>> option_for(Setting("overwrite"))
    '--force'
    """
    if setting.name in _OPTIONS:
        return _OPTIONS[setting.name]
    flag = "--" + setting.name.replace("_", "-")
    return flag if setting.value is True else f"{flag} {setting.value}"


def describe(error: WavedilError) -> str:
    """The error's one line as the command line prints it after ``Error:``."""
    return error.describe(option_for)


def to_click(error: WavedilError) -> click.ClickException:
    """The click exception that reports ``error`` with the right exit code."""
    if isinstance(error, UsageError):
        return click.UsageError(describe(error))
    return click.ClickException(describe(error))
