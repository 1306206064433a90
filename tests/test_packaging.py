"""What ``pip install .`` installs: every package of the source tree (an editable install would hide a missing one)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def package_name(init: Path) -> str:
    """The installed name of the package whose ``__init__.py`` is ``init`` (``cli/`` installs as ``wavedil.cli``)."""
    parts = init.parent.relative_to(ROOT).parts
    return ".".join(("wavedil", *parts) if parts[0] == "cli" else parts)


def test_every_package_folder_is_installed_under_its_name():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {package_name(p) for folder in ("wavedil", "cli") for p in (ROOT / folder).rglob("__init__.py")}
    assert sorted(tool["packages"]) == sorted(found)
    for name in tool["packages"]:
        assert package_name(ROOT / tool["package-dir"][name] / "__init__.py") == name
