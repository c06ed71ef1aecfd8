# Set-up and checks. Every target creates or reuses .venv itself.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch is pinned for development and CI (a CPU wheel of this version is on local disk); the package needs >=2.1
TORCH_DEV := torch==2.13.0
# the suite runs one pytest-xdist worker per core (`make test WORKERS=0` runs it in this process); a test module stays
# on one worker, so its module-scoped reference runs are made once
WORKERS ?= auto
PARALLEL := -n $(WORKERS) --dist loadfile
# pip's notes about unused local index folders are noise
QUIET_PIP := grep -v 'is ignored: it is neither a file nor a directory' || true

# the oldest Lightning setup.cfg admits; `make test-floor` runs the suite against it
FLOOR_LIGHTNING := 2.6.4
FLOOR := .venv-floor

# the deep_pipe release whose non-training modules `make test-deep-pipe` runs next to dpipe_lightning (setup.cfg's extra)
DEEP_PIPE_REQUIREMENT := deep-pipe>=0.5,<0.6
DEEP_PIPE := .venv-deep-pipe

.PHONY: venv demo test test-floor test-deep-pipe test-gpu docs lint format bench clean

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q '$(TORCH_DEV)' 2>&1 | $(QUIET_PIP)
	$(BIN)/python -m pip install -q -e '.[dev,demo,docs]' 2>&1 | $(QUIET_PIP)
	$(BIN)/python -c 'import torch, lightning, dpipe_lightning'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m dpipe_lightning.demo --out runs/demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PARALLEL)

# the suite (without the slow subprocess tests) on the oldest supported Lightning: a venv holding only
# lightning==$(FLOOR_LIGHTNING) that reads every other package from .venv (so nothing else is downloaded twice)
$(FLOOR)/.installed: $(STAMP)
	test -x $(FLOOR)/bin/python || $(PYTHON) -m venv $(FLOOR)
	echo "import site; site.addsitedir('$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')')" \
		> "$$($(FLOOR)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/zz-dev-venv.pth"
	$(FLOOR)/bin/python -m pip install -q --no-deps 'lightning==$(FLOOR_LIGHTNING)' 'pytorch-lightning==$(FLOOR_LIGHTNING)' \
		2>&1 | $(QUIET_PIP)
	$(FLOOR)/bin/python -c 'import lightning, pytorch_lightning; assert lightning.__version__ == "$(FLOOR_LIGHTNING)"'
	touch $@

test-floor: $(FLOOR)/.installed
	$(FLOOR)/bin/python -m pytest -q -m 'not slow' $(PARALLEL)

# deep_pipe 0.5's non-training modules next to dpipe_lightning (the `deep-pipe` extra): a venv holding only
# deep-pipe and what it adds (imops, pdp, loky, pandas, scikit-image...), reading every other package from .venv
$(DEEP_PIPE)/.installed: $(STAMP)
	test -x $(DEEP_PIPE)/bin/python || $(PYTHON) -m venv $(DEEP_PIPE)
	echo "import site; site.addsitedir('$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')')" \
		> "$$($(DEEP_PIPE)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/zz-dev-venv.pth"
	$(DEEP_PIPE)/bin/python -m pip install -q '$(DEEP_PIPE_REQUIREMENT)' 2>&1 | $(QUIET_PIP)
	$(DEEP_PIPE)/bin/python -c 'import torch, dpipe, dpipe_lightning; assert torch.__version__.startswith("$(subst torch==,,$(TORCH_DEV))")'
	touch $@

test-deep-pipe: $(DEEP_PIPE)/.installed
	$(DEEP_PIPE)/bin/python -m pytest -q tests/compat/test_deep_pipe_coexistence.py

# the checks that need a CUDA GPU (skipped elsewhere); needs a CUDA build of torch in .venv
test-gpu: $(STAMP)
	$(BIN)/python -c 'import torch; assert torch.cuda.is_available(), "no CUDA device visible to torch"'
	$(BIN)/python -m pytest tests/gpu -q -p no:cacheprovider

# the documentation site, warnings as errors
docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

# benchmarks are run by hand (not part of make test); each writes its table into docs/benchmarks/
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf runs build dist *.egg-info $(FLOOR) $(DEEP_PIPE)
