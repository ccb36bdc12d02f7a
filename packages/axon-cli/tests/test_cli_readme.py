"""The README's "## CLI" section lists exactly the subcommands ``axon --help`` shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

AXON = str(Path(sys.executable).with_name("axon"))
README = Path(__file__).resolve().parents[1] / "README.md"


def _help_commands() -> set[str]:
    env = {**os.environ, "COLUMNS": "100", "TERM": "dumb"}
    shown = subprocess.run([AXON, "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert shown.returncode == 0, shown.stderr
    panel = shown.stdout.split("Commands", 1)[1]
    # Each command is the first word of a row of the Commands panel; wrapped help lines start with spaces.
    return set(re.findall(r"^\W (\w[\w-]*)\s{2,}\S", panel, flags=re.MULTILINE))


def _readme_commands() -> set[str]:
    section = README.read_text().split("\n## CLI\n", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("- "):
            names |= {span.split()[0] for span in re.findall(r"`([^`]+)`", line.split(":", 1)[0])}
    return names


def test_readme_cli_section_lists_the_help_commands():
    commands = _help_commands()
    assert {"new", "train", "gpu", "dataset"} <= commands
    assert _readme_commands() == commands
