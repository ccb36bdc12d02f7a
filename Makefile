# Set-up and test entry points. `make test` works on a fresh machine: it installs uv when
# missing, syncs the workspace from uv.lock, adds PyTorch 2.13 (CPU) as a test oracle, then
# runs every test.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
TORCH_VERSION := 2.13.0
# llama-cpp-python (the axon-quant oracle) builds llama.cpp from its sdist during the sync; its AMX
# kernels crash decode on some of these CPUs, so they are left out.
export CMAKE_ARGS ?= -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_BF16=OFF \
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF

.PHONY: setup test test-fast test-integration test-sim test-gpu kernel-check kernel-report bench demo build \
	lint lint-imports clean

$(UV):
	$(PYTHON) -m pip install --user --quiet uv

setup: $(UV)
	$(UV) sync --all-packages --frozen --inexact
	@$(PY) -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$(TORCH_VERSION)')" 2>/dev/null \
	  || $(PYTHON) -m pip --python $(PY) install --quiet torch==$(TORCH_VERSION)
	@command -v chromium >/dev/null && command -v espeak-ng >/dev/null || { \
	  echo "installing Debian's chromium (the dashboard browser test) and espeak-ng (speech for the audio tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium espeak-ng >/dev/null; }

test: setup
	$(PYTEST) -n 2 packages tests-integration
	AXON_DEFAULT_DEVICE=cuda-sim $(PYTEST) -n 2 $(DEVICE_SUITES)

test-fast: setup
	$(PYTEST) -n 2 packages

test-integration: setup
	$(PYTEST) -n 2 tests-integration

# Every tools/bench/bench_*.py writes its JSON under bench-results/.
bench: setup
	@mkdir -p bench-results
	@for script in tools/bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

kernel-check: setup
	$(PY) -m axon_core.kernels check --arch sm_80,sm_90,sm_120

# The device-independent suites with every tensor on one device: cuda-sim runs the CUDA backend's
# code and our kernels on the CPU executor (no GPU needed); test-gpu runs the same on a real GPU.
DEVICE_SUITES := packages/axon-core/tests packages/axon-tensor/tests \
	$(wildcard packages/axon-autograd/tests packages/axon-nn/tests packages/axon-optim/tests)

test-sim: setup
	AXON_DEFAULT_DEVICE=cuda-sim $(PYTEST) -n 2 $(DEVICE_SUITES)

test-gpu: setup
	AXON_DEFAULT_DEVICE=cuda $(PYTEST) -n 2 $(DEVICE_SUITES)

# docs/kernels-report.md: registers, spills, shared memory per arch and the max error under cuda-sim.
kernel-report: setup
	$(PY) tools/kernel_report.py --out docs/kernels-report.md

# The main job (issue 20): train a 12.6 M-parameter LLaMA from scratch on the standard library's
# sources, sample it, write Q8_0/Q4_0 GGUF files and generate from them; outputs in runs/train_llm.
# More flags: make demo DEMO_ARGS="--size tiny --steps 100" (see examples/train_llm.py --help).
DEMO_ARGS ?=
demo: setup
	$(PY) examples/train_llm.py $(DEMO_ARGS)

build: $(UV)
	$(UV) build --all-packages --out-dir dist

# ruff (configured in pyproject.toml): lint rules and the formatter's verdict over LINT_PATHS.
LINT_PATHS ?= .
lint: setup
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)

lint-imports: setup
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) dist .pytest_cache
