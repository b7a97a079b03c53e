# Quick start: `make demo` runs the main job, `make test` runs every check but the slow
# group, `make ci` runs everything (what CI runs).
# Both create their own virtual environment from pyproject.toml; nothing else is assumed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WHEEL_VENV := build/wheel-venv

.PHONY: demo test ci test-slow pytest pytest-slow lint typecheck wheel-check bench bench-engine bench-http bench-report bench-whatif bench-privacy clean

$(STAMP): pyproject.toml plugins/membercore-clinic-example/pyproject.toml plugins/membercore-hl7v2/pyproject.toml plugins/membercore-dbview/pyproject.toml plugins/membercore-fhir/pyproject.toml plugins/membercore-wecom/pyproject.toml plugins/membercore-sms/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e plugins/membercore-clinic-example
	$(BIN)/python -m pip install --quiet -e plugins/membercore-hl7v2
	$(BIN)/python -m pip install --quiet -e plugins/membercore-fhir
	$(BIN)/python -m pip install --quiet -e plugins/membercore-dbview
	$(BIN)/python -m pip install --quiet -e plugins/membercore-wecom
	$(BIN)/python -m pip install --quiet -e plugins/membercore-sms
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/membercore demo

test: pytest lint typecheck wheel-check

# The slow group: the longest property runs, the runs of many processes, the browser.
test-slow: pytest-slow

ci: test test-slow

pytest: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser"

pytest-slow: $(STAMP)
	$(BIN)/python -m pytest -m "slow or browser"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict

# The built wheel must carry both packages and their data, and work without the source
# tree. build/lib goes first: setuptools would put a module deleted since into the wheel.
wheel-check: $(STAMP)
	rm -rf dist build/lib $(WHEEL_VENV)
	$(BIN)/python -m build --wheel --outdir dist . > /dev/null
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install --quiet dist/membercore-*.whl
	cd build && wheel-venv/bin/python -I -c "import membercore, membercore_adapters; print('wheel imports', membercore.__name__, membercore_adapters.__name__)"
	cd build && wheel-venv/bin/python -I -c "import membercore; print('wheel loads', membercore.reference_config().name)"
	cd build && wheel-venv/bin/python -I -c "from importlib.resources import files; console = files('membercore_adapters') / 'console'; assert (console / 'templates' / 'queue.html').is_file() and (console / 'static' / 'console.css').is_file(); print('wheel carries the console')"
	cd build && wheel-venv/bin/membercore demo --patients 300 --months 3 --workers 1 --quiet --store sqlite:///wheel-demo.db > /dev/null

bench: $(STAMP)
	$(BIN)/python benchmarks/ledger.py

bench-engine: $(STAMP)
	$(BIN)/python benchmarks/engine.py

bench-http: $(STAMP)
	$(BIN)/python benchmarks/http_api.py

bench-report: $(STAMP)
	$(BIN)/python benchmarks/report.py

bench-whatif: $(STAMP)
	$(BIN)/python benchmarks/whatif.py

bench-privacy: $(STAMP)
	$(BIN)/python benchmarks/privacy.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache .hypothesis membercore-demo.db* membercore-demo-report*
