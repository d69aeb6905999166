# digex: `make run` runs the Danish baseline, `make test` runs the test suite.
# Both create the virtual environment .venv when it is missing.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= results/baseline

.PHONY: run test lint bench bench-scaling golden clean

$(PY):
	@scripts/find-python.sh >/dev/null
	$$(scripts/find-python.sh) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m sim run scenarios/denmark_baseline.yaml --out $(OUT)
	@echo "Results and plots are in $(OUT)/"

test: $(STAMP)
	$(PY) -m ruff check sim tests scripts benchmarks
	bash scripts/ensure-chromium.sh
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check sim tests scripts benchmarks

golden: $(STAMP)
	$(PY) -m tests.golden.cases

bench: $(STAMP)
	$(PY) benchmarks/versions.py

bench-scaling: $(STAMP)
	$(PY) benchmarks/run_benchmarks.py

clean:
	rm -rf $(VENV) results
