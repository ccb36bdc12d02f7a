"""Each extra of the umbrella ``axon`` installs the distributions it names, and ``[all]`` is every extra.

uv resolves ``axon[<extra>]`` for this Python the way ``pip install`` would, with the workspace's
distributions taken from their folders (``[tool.uv.sources]`` of a throwaway project) and everything
else from PyPI; the result is compared with the resolution of plain ``axon``. Nothing is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ROOT / "packages"
# Distribution name -> its folder, for every workspace member.
WORKSPACE = {
    tomllib.loads((folder / "pyproject.toml").read_text())["project"]["name"]: folder
    for folder in sorted(PACKAGES.iterdir())
    if (folder / "pyproject.toml").exists()
}
UMBRELLA_EXTRAS: dict[str, list[str]] = tomllib.loads((PACKAGES / "axon" / "pyproject.toml").read_text())["project"][
    "optional-dependencies"
]


def _uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(found).exists():
        pytest.fail("uv is not installed; `make setup` installs it")
    return found


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split(requirement: str) -> tuple[str, list[str]]:
    """``"axon-core[cuda]==0.1.0"`` -> ``("axon-core", ["cuda"])``."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", requirement)
    assert match, requirement
    extras = [e.strip() for e in (match.group(2) or "").split(",") if e.strip()]
    return _normalise(match.group(1)), extras


def _named(requirements: list[str]) -> set[str]:
    """The distributions a list of requirements names, an axon distribution's extras expanded."""
    names: set[str] = set()
    for requirement in requirements:
        name, extras = _split(requirement)
        names.add(name)
        if extras:
            optional = tomllib.loads((WORKSPACE[name] / "pyproject.toml").read_text())["project"]
            for extra in extras:
                names |= _named(optional["optional-dependencies"][extra])
    return names


_RESOLVED: dict[str, set[str]] = {}


def _resolve(requirement: str, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Names of every distribution ``pip install <requirement>`` would install into an empty venv."""
    if requirement in _RESOLVED:
        return _RESOLVED[requirement]
    project = tmp_path_factory.mktemp("extras-probe")
    sources = "\n".join(f'{name} = {{ path = "{folder}" }}' for name, folder in WORKSPACE.items())
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "extras-probe"\nversion = "0"\ndependencies = ["{requirement}"]\n\n'
        f"[tool.uv.sources]\n{sources}\n"
    )
    command = [_uv(), "pip", "compile", "--quiet", "--no-header", "--no-annotate", "--python", sys.executable]
    result = subprocess.run(
        [*command, "pyproject.toml"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "UV_NO_PROGRESS": "1"},
    )
    if result.returncode != 0 and re.search(r"[Ff]ailed to fetch|[Cc]onnect|dns|network", result.stderr):
        pytest.skip(f"PyPI is not reachable, so uv cannot resolve {requirement}: {result.stderr.strip()[:300]}")
    assert result.returncode == 0, result.stderr
    folders = {folder.resolve(): name for name, folder in WORKSPACE.items()}
    names = set()
    for line in result.stdout.splitlines():
        line = line.strip().removeprefix("-e ").strip()
        if not line or line.startswith("#"):
            continue
        if "==" in line:
            names.add(_normalise(line.split("==")[0]))
        else:  # a workspace distribution, written as its folder
            names.add(folders[Path(line.removeprefix("file://")).resolve()])
    _RESOLVED[requirement] = names
    return names


@pytest.mark.slow
@pytest.mark.parametrize("extra", sorted(UMBRELLA_EXTRAS))
def test_each_extra_installs_what_it_names(extra: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    base = _resolve("axon", tmp_path_factory)
    with_extra = _resolve(f"axon[{extra}]", tmp_path_factory)
    named = _named(UMBRELLA_EXTRAS[extra])
    assert named <= with_extra, f"axon[{extra}] does not install {sorted(named - with_extra)}"
    assert base <= with_extra
    # The axon distributions the extra brings are exactly those it names (or their axon dependencies).
    axon_added = {name for name in with_extra - base if name in WORKSPACE}
    axon_named = {name for name in named if name in WORKSPACE} - base
    assert axon_added == axon_named, f"axon[{extra}] adds {sorted(axon_added)}, names {sorted(axon_named)}"
    # A named third-party distribution is one the base install lacks: the extra adds it.
    assert not {name for name in named if name not in WORKSPACE} & base


@pytest.mark.slow
def test_all_is_every_other_extra(tmp_path_factory: pytest.TempPathFactory) -> None:
    others = sorted(set(UMBRELLA_EXTRAS) - {"all"})
    assert others, "the umbrella has no extras besides [all]"
    union = {re.sub(r"\s+", "", r) for extra in others for r in UMBRELLA_EXTRAS[extra]}
    assert {re.sub(r"\s+", "", r) for r in UMBRELLA_EXTRAS["all"]} == union
    assert _resolve("axon[all]", tmp_path_factory) == _resolve(f"axon[{','.join(others)}]", tmp_path_factory)
    # Every existing distribution but the umbrella itself is reachable through [all].
    assert set(WORKSPACE) - {"axon"} <= _resolve("axon[all]", tmp_path_factory)
