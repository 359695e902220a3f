# Set-up and daily commands. `make test` and `make demo` work on a fresh machine: they create .venv,
# install torch + torchvision (left alone when a working pair is already there), then probdeg.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch 2.13 with its matching torchvision. The "!=2.13.0+cpu" keeps pip off a CPU-only local wheel,
# next to which torchvision cannot import (see docs/install.md).
TORCH_SPEC ?= torch==2.13.0,!=2.13.0+cpu
TORCHVISION_SPEC ?= torchvision==0.28.0

.PHONY: install test lint demo wheel bench clean

install: $(VENV)/.probdeg-installed

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch-ok: | $(PY)
	@if $(PY) -c "import torch, torchvision; torchvision.ops.nms" >/dev/null 2>&1; then \
		echo "torch $$($(PY) -c 'import torch; print(torch.__version__)') already works: left alone"; \
	else \
		$(PY) -m pip install --upgrade pip setuptools wheel && \
		$(PY) -m pip install "$(TORCH_SPEC)" "$(TORCHVISION_SPEC)"; \
	fi
	touch $@

# --no-build-isolation: basicsr's setup_requires would otherwise pull a second torch into its build env.
$(VENV)/.probdeg-installed: pyproject.toml $(VENV)/.torch-ok
	$(PY) -m pip install --no-build-isolation -e ".[dev]"
	touch $@

lint: install
	$(VENV)/bin/ruff check .

test: install lint
	$(PY) -m pytest -q

# The main job: generators, MSSR and the baselines on a small task, then demo_out/report.html (resumable).
# DEMO_ARGS=--quick for the short budget.
demo: install
	$(PY) -m probdeg demo $(DEMO_ARGS)

wheel: install
	$(PY) -m pip wheel . --no-deps --no-build-isolation -w dist

bench: install
	$(PY) benchmarks/bench_wrapper.py

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache
