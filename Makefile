# The two commands of the set-up contract: `make build` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: build test test-fast serve bench clean lint

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@# Editable installs leave the package uncompiled; start-up is a tenth of a quick rebuild.
	$(BIN)/python -m compileall -q newsdigest >/dev/null
	touch $(STAMP)

build: $(STAMP)
	$(BIN)/newsdigest build

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

# The inner loop: everything but the long randomized and kill-at-random tests (CI runs them).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

serve: $(STAMP)
	$(BIN)/newsdigest serve

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/images.py

lint: $(STAMP)
	$(BIN)/ruff check newsdigest tests bench

clean:
	rm -rf public .cache
