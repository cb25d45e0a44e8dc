# Two commands do all the set-up:  `make run` (install + train HybridSN)  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PLUGINS := $(wildcard plugins/*/pyproject.toml)

.PHONY: install run lint test temporal-comparison zoo-comparison clean

$(STAMP): pyproject.toml $(PLUGINS)
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned: an unpinned torch pulls gigabytes of CUDA wheels.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test]" $(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/hsframe run --model hybridsn

# Ruff: pyflakes, pycodestyle and import order, configured in pyproject.toml.
lint: install
	$(BIN)/ruff check .

test: install
	$(BIN)/python -m pytest

# experiments/temporal/README.md: 5 convolution families x 2 datasets x 3 seeds, then the table.
temporal-comparison: install
	$(BIN)/python experiments/temporal/run.py

zoo-comparison: install
	$(BIN)/python experiments/zoo/run.py

clean:
	rm -rf $(VENV) mlflow.db mlflow.db.lock optuna.db mlartifacts checkpoints
