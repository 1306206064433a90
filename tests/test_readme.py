"""The README's Python section runs verbatim as a script, as a reader would paste it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_section(title: str) -> str:
    """The text of the README's ``## title`` section, up to the next ``## ``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def python_blocks(section: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", section, flags=re.M | re.S)


def test_the_python_api_section_runs_as_a_script(tmp_path):
    (script,) = python_blocks(readme_section("Python API"))[:1]
    # Run from a copy of the repository's samples, as a reader in a fresh clone would.
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    (tmp_path / "example.py").write_text(script, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    proc = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    # Each print's output is the comment on its line, as the section promises.
    promised = [line.split("#", 1)[1].strip() for line in script.splitlines() if line.strip().startswith("print(")]
    assert proc.stdout.splitlines() == promised
    assert (tmp_path / "pluck_out.wav").is_file() and (tmp_path / "pluck_out.flac").is_file()


def test_the_layout_table_names_every_module_and_only_modules_that_exist():
    section = readme_section("Layout")
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    named: set[str] = set()
    for row in rows:
        path_cell, what = row.split(" | ", 1)
        paths = re.findall(r"`([^`]+)`", path_cell)
        for path in paths:
            assert (ROOT / path).exists(), path
            named.add(path.rstrip("/"))
            if path.endswith("/"):  # a folder's row names its modules by file name
                named.update(f"{path}{name}" for name in re.findall(r"`([\w.]+\.py)`", what))
    modules = {
        str(p.relative_to(ROOT))
        for folder in ("wavedil", "cli")
        for p in (ROOT / folder).rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }
    assert sorted(modules - named) == []
