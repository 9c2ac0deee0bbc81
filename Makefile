# Every target bootstraps .venv from requirements.lock itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench clean lock fuzz

# The first install takes about a minute (LightGBM, MLflow, pandas ...): each step says so.
$(STAMP): requirements.lock pyproject.toml
	@echo "[1/4] creating $(VENV) (first run only)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "[2/4] installing pip and uv into $(VENV)"
	@$(BIN)/python -m pip install --quiet --upgrade pip uv
	@echo "[3/4] installing the locked dependencies from requirements.lock (about a minute on a fresh clone) ..."
	@start=$$(date +%s); \
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock && \
	echo "      done in $$(( $$(date +%s) - start )) s"
	@echo "[4/4] installing tarve itself (editable)"
	@$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)
	@echo "environment ready: $(VENV)"

run: $(STAMP)
	$(BIN)/tarve demo

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

# Schemathesis over the whole API with each role, longer than CI's run (5 examples, no
# shrinking): FUZZ_EXAMPLES examples per operation, role and mode, failures shrunk.
FUZZ_EXAMPLES ?= 100
fuzz: $(STAMP)
	TARVE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -s -p no:cacheprovider tests/service/security/test_schemathesis.py

lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .tarve .pytest_cache .mypy_cache .ruff_cache
