# leadsift: the two commands are `make repro` and `make test`.
# Everything runs inside .venv, created on first use from the pinned requirements.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
# Stage commands call `python` and `dvc queue` workers call `dvc`: both must be the venv's.
export PATH := $(BIN):$(PATH)
# Which pipeline `make compare` and `make serve` are about: leads | customers | clicks.
PIPELINE ?= leads

.PHONY: install install-scale mlflow-server repro test test-identity lint format dag metrics compare serve bench pr-report clean-venv lock help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# A venv works only where it was made (its scripts name their interpreter, and the editable
# install names src/, by absolute path), so the stamp holds that path: in a moved or copied
# working copy the venv is made again.
ifneq ($(wildcard $(VENV)/.runtime),)
ifneq ($(shell cat $(VENV)/.runtime),$(BIN))
$(info $(VENV) was made for $(or $(shell cat $(VENV)/.runtime),another folder or an older Makefile): making it again here)
$(shell rm -rf $(VENV))
endif
endif

$(VENV)/.runtime: requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@echo $(BIN) > $@

$(VENV)/.scale: $(VENV)/.runtime requirements-scale.txt
	$(BIN)/python -m pip install --quiet -r requirements-scale.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.scale requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

install-scale: $(VENV)/.scale  ## add the optional requirements of docs/scale.md (PostgreSQL driver, Spark)

install: $(VENV)/.runtime  ## create .venv with the pinned runtime requirements

repro: $(VENV)/.runtime  ## build the whole pipeline (only what changed reruns), then a summary
	python -m leadsift.preflight
	dvc repro
	python -m leadsift.registry_sync
	@python -m leadsift.summary

# Two workers, whole files each (a module's built repository stays in one process), in collection
# order: end-to-end files first (tests/conftest.py), so no long build runs alone at the end; the
# slowest tests are listed last, to keep the suite within its budget.
PYTEST_WORKERS ?= 2
test: $(VENV)/.dev lint  ## lint, then the test suite (unit + end-to-end dvc runs)
	pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

# The suite sends 1,000 dirty leads one at a time; this sends 10,000 (several minutes, one core).
test-identity: $(VENV)/.dev  ## one lead at a time = the batch's answer, on 10,000 dirty leads
	pytest tests/test_sales.py -k one_lead_at_a_time --leads-one-at-a-time 10000 --durations=1

lint: $(VENV)/.dev  ## ruff lint and format check; GitHub workflow files against their schema
	ruff check .
	ruff format --check .
	check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yaml

format: $(VENV)/.dev  ## apply ruff's formatting and safe fixes
	ruff check --fix .
	ruff format .

dag: $(VENV)/.runtime  ## print the pipeline graph
	dvc dag

metrics: $(VENV)/.runtime  ## show current metrics
	dvc metrics show

compare: $(VENV)/.runtime  ## experiments of this commit, one line each, best first (PIPELINE=customers or clicks)
	python -m leadsift.compare --pipeline $(PIPELINE)

BASE ?= main
# A pull request never moves the champion: the gate only says what it would do, against the
# champion of today's store (the register stages are forced, since the branch's committed verdict may be old).
pr-report: export LEADSIFT_PROMOTION = off
pr-report: $(VENV)/.runtime  ## what a pull request's comment shows: reports/pr_report.md, diffs vs $(BASE)
	dvc repro
	dvc repro --force --single-item leads_register customers_register clicks_register
	dvc repro
	cp reports/report.md reports/pr_report.md
	{ printf '\n## Metrics compared with %s\n\n' '$(BASE)'; \
	  out=$$(dvc metrics diff '$(BASE)' --md | awk 'NR > 2 && /^\|/ {rows = 1} {print} END {exit !rows}') \
	    || out=""; echo "$${out:-No metric changed.}"; \
	  printf '\n## Params compared with %s\n\n' '$(BASE)'; \
	  out=$$(dvc params diff '$(BASE)' --md | awk 'NR > 2 && /^\|/ {rows = 1} {print} END {exit !rows}') \
	    || out=""; echo "$${out:-No parameter changed.}"; \
	  printf '\n## Data compared with %s\n\n' '$(BASE)'; \
	  base=$$(mktemp); \
	  for input in leads transactions clicks; do \
	    git show '$(BASE)':reports/profile/$$input.json > $$base 2>/dev/null || : > $$base; \
	    python -m leadsift.core.profile_diff $$base reports/profile/$$input.json; \
	  done; rm -f $$base; \
	} >> reports/pr_report.md
	@echo "wrote reports/pr_report.md"

PORT ?= 5001
serve: $(VENV)/.runtime  ## serve a champion on http://127.0.0.1:$(PORT): PIPELINE=leads|customers|clicks
	python -m leadsift.serve --pipeline $(PIPELINE) --port $(PORT)

BENCH_ARGS ?=
# The team's MLflow server (docs/promotion.md#the-teams-mlflow-server): runs and the registry in
# PostgreSQL at LEADSIFT_MLFLOW_DB, artifacts in a folder of this machine that the server serves to
# every client. Each worker keeps at most 4 database connections (a pool of 2, 2 overflow).
LEADSIFT_MLFLOW_ARTIFACTS ?= $(CURDIR)/mlartifacts-server
LEADSIFT_MLFLOW_HOST ?= 127.0.0.1
LEADSIFT_MLFLOW_PORT ?= 5000
LEADSIFT_MLFLOW_WORKERS ?= 2
# The recipe's shell reads the database URL, and make never echoes it: it may hold a password.
export LEADSIFT_MLFLOW_DB
mlflow-server: $(VENV)/.scale  ## the team's MLflow server on PostgreSQL (set LEADSIFT_MLFLOW_DB; docs/promotion.md)
	@test -n "$$LEADSIFT_MLFLOW_DB" || { echo "make mlflow-server: set LEADSIFT_MLFLOW_DB to the team's PostgreSQL, e.g. postgresql+psycopg://mlflow@db-host:5432/mlflow (docs/promotion.md)" >&2; exit 2; }
	@MLFLOW_SQLALCHEMYSTORE_POOL_SIZE=2 MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW=2 exec mlflow server \
	  --backend-store-uri "$$LEADSIFT_MLFLOW_DB" --artifacts-destination "$(LEADSIFT_MLFLOW_ARTIFACTS)" \
	  --host $(LEADSIFT_MLFLOW_HOST) --port $(LEADSIFT_MLFLOW_PORT) --workers $(LEADSIFT_MLFLOW_WORKERS)

bench: $(VENV)/.dev  ## measure quality, speed and scale into reports/bench.json (long; see docs/benchmark.md)
	python -m leadsift.bench $(BENCH_ARGS)

lock:  ## re-resolve requirements*.txt from requirements*.in in a throwaway venv
	rm -rf .lock && $(PYTHON) -m venv .lock/venv
	.lock/venv/bin/pip install --quiet -r requirements.in
	.lock/venv/bin/pip freeze --exclude-editable | sort -f > .lock/runtime
	.lock/venv/bin/pip install --quiet -r requirements-dev.in
	.lock/venv/bin/pip freeze --exclude-editable | sort -f > .lock/all
	{ echo "# Pinned runtime environment (resolved from requirements.in by 'make lock'; Python 3.11)."; \
	  cat .lock/runtime; } > requirements.txt
	{ echo "# Pinned test and lint tools on top of the runtime pins ('make lock')."; \
	  echo "-r requirements.txt"; grep -vxF -f .lock/runtime .lock/all; } > requirements-dev.txt
	rm -rf .lock

clean-venv:  ## remove the virtual environment
	rm -rf $(VENV)
