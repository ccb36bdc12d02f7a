"""Every distribution builds a wheel, and axon-core installs and imports with only its own dependencies."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(found).exists():
        pytest.fail("uv is not installed; `make setup` installs it")
    return found


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [_uv(), "build", "--all-packages", "--wheel", "--out-dir", str(out)], cwd=ROOT, check=True, capture_output=True
    )
    return out


def _dist_dirs() -> list[str]:
    return sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())


@pytest.mark.slow
def test_every_distribution_builds_a_wheel_with_its_sources(wheels: Path) -> None:
    for dist in _dist_dirs():
        module = dist.replace("-", "_")
        matches = list(wheels.glob(f"{module}-*.whl"))
        assert len(matches) == 1, f"no wheel for {dist} in {sorted(p.name for p in wheels.iterdir())}"
        names = zipfile.ZipFile(matches[0]).namelist()
        assert f"{module}/__init__.py" in names, f"{matches[0].name} lacks {module}/__init__.py"


@pytest.mark.slow
def test_axon_core_alone_installs_and_imports(wheels: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([_uv(), "venv", "--python", sys.executable, str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    core_wheel = next(wheels.glob("axon_core-*.whl"))
    subprocess.run(
        [_uv(), "pip", "install", "--python", str(python), str(core_wheel)],
        check=True,
        capture_output=True,
        env={**os.environ, "UV_NO_PROGRESS": "1"},
    )
    script = (
        "import importlib.util, axon_core, numpy\n"
        "assert importlib.util.find_spec('axon_tensor') is None\n"
        "d = axon_core.Device('cpu')\n"
        "print(d, axon_core.result_type(numpy.zeros(2, numpy.int32), 1.5), sorted(axon_core.memory_stats('cpu')))\n"
        # The Numba host kernels ship in the wheel and compile in a fresh environment.
        "x = numpy.random.default_rng(0).standard_normal((2, 3, 4, 6)).astype(numpy.float32)\n"
        "out, _ = d.backend.max_pool2d(x, 2)\n"
        "print(numpy.array_equal(out, x.reshape(2, 3, 2, 2, 3, 2).max(axis=(3, 5))))\n"
    )
    result = subprocess.run(
        [str(python), "-c", script],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")},
    )
    assert result.stdout.split() == ["cpu", "axon.float32", "['cached',", "'in_use',", "'limit',", "'peak']", "True"]
    installed = subprocess.run(
        [_uv(), "pip", "freeze", "--python", str(python)], check=True, capture_output=True, text=True
    ).stdout
    names = {line.split("==")[0].split(" @ ")[0].lower() for line in installed.splitlines() if line}
    assert names == {"axon-core", "numpy", "ml-dtypes", "threadpoolctl", "numba", "llvmlite"}, names


@pytest.mark.slow
def test_cuda_sim_runs_a_kernel_from_the_installed_axon_core_wheel(wheels: Path, tmp_path: Path) -> None:
    """The wheel ships the cuda-sim prelude and runtime; cuda-sim needs NumPy and g++, not CuPy."""
    venv = tmp_path / "venv"
    subprocess.run([_uv(), "venv", "--python", sys.executable, str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [_uv(), "pip", "install", "--python", str(python), str(next(wheels.glob("axon_core-*.whl")))],
        check=True,
        capture_output=True,
        env={**os.environ, "UV_NO_PROGRESS": "1"},
    )
    script = (
        "import importlib.util, numpy as np, axon_core\n"
        "assert importlib.util.find_spec('cupy') is None\n"
        "b = axon_core.Device('cuda-sim').backend\n"
        "x = np.random.default_rng(0).standard_normal((5, 333)).astype(np.float32)\n"
        "e = np.exp(x - x.max(1, keepdims=True)); ref = e / e.sum(1, keepdims=True)\n"
        "seen = []\n"
        "launch = b.launch\n"
        "b.launch = lambda k, name, *a: (seen.append(name), launch(k, name, *a))\n"
        "y = b.to_numpy(b.softmax(b.from_numpy(x), -1))\n"
        "print(seen, float(np.abs(y - ref).max()) < 1e-6)\n"
    )
    result = subprocess.run(
        [str(python), "-c", script],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "AXON_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert result.stdout.split() == ["['softmax_fwd_f32']", "True"], result.stdout + result.stderr
