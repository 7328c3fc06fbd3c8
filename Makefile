# The two commands: `make dev` serves PIE locally, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
SERVING := $(VENV)/.installed-local
NODE_TOOLS := node_modules/.installed

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: dev test lint install install-local smoke browser synth bench bench-mlflow cost openapi clean

# The virtualenv without ensurepip's copy of pip (slow to unpack, and then replaced): the
# interpreter's own pip puts a current pip into it when it can (pip >= 22.3 has --python);
# otherwise ensurepip does, and the upgrade follows. Setuptools comes along, so that PIE and the
# SDK (both built by setuptools) install without a build environment of their own each.
BOOTSTRAP := pip 'setuptools>=69' wheel
$(BIN)/python:
	$(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install --quiet --no-compile --upgrade $(BOOTSTRAP) 2>/dev/null \
	  || { $(BIN)/python -m ensurepip --default-pip && $(BIN)/python -m pip install --quiet --upgrade $(BOOTSTRAP); }

# The SDK and the `pie` CLI (clients/python) are their own distribution; tests/clients uses both.
# Two stamps: `make dev` needs only what serving needs (the [local] extra), `make test` everything
# (the [dev] extra). A full install also satisfies serving, so it stamps both; a serving install
# alone leaves the full stamp missing, so `make test` after `make dev` installs the rest.
$(INSTALLED): pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e './clients/python[cli]'
	touch $(INSTALLED) $(SERVING)

$(SERVING): pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-compile --no-build-isolation -e '.[local]' -e './clients/python[cli]'
	touch $(SERVING)

install: $(INSTALLED)

install-local: $(SERVING)

# The Node tools the tests run (Spectral, which lints docs/openapi.json), pinned by
# package-lock.json into node_modules/; install scripts stay off.
$(NODE_TOOLS): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $(NODE_TOOLS)

HOST ?= 127.0.0.1
PORT ?= 8000

dev: install-local
	$(BIN)/pie-local serve --host $(HOST) --port $(PORT)

# A short end-to-end run against any PIE (two models, a chain, an alias move, a webhook ping),
# cleaned up after itself: `make smoke API=https://... TOKEN=... [WEBHOOK_URL=https://...]`;
# against `make dev`, TOKEN="$$(.venv/bin/pie-local token)".
API ?= http://$(HOST):$(PORT)
smoke: install-local
	$(BIN)/python -m tools.smoke --api '$(API)' $(if $(TOKEN),--token '$(TOKEN)') $(if $(WEBHOOK_URL),--webhook-url '$(WEBHOOK_URL)')

test: install $(NODE_TOOLS) browser lint
	$(BIN)/python -m pytest

# ruff's rule set and why are in pyproject.toml; `ruff format .` and `ruff check --fix .` mend most findings.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The console's browser tests drive Debian's Chromium through its ChromeDriver. As root, a missing
# browser is installed here; otherwise those tests fail and say what to install (docs/decisions.md).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update && apt-get install -y chromium chromium-driver; \
		else \
			echo "make: Chromium is missing; the console's browser tests will fail until you run" \
				"'sudo apt-get install -y chromium chromium-driver'" >&2; \
		fi; \
	fi

# docs/openapi.json is generated from the route functions' models, and the SDK ships a copy of the
# rules it publishes (x-pie-lifecycle, x-pie-job-events); a test fails when either drifts.
openapi: install
	$(BIN)/python -m tools.openapi > docs/openapi.json
	$(BIN)/python -m tools.openapi --rules > clients/python/pie_client/rules.json

# Cold starts, DynamoDB round trips, warm overhead, fan-out, dispatch and local API throughput,
# each against a baseline from the same run: one table on stdout, bench/results.json (docs/performance.md).
bench: install
	$(BIN)/python -m bench

# A month of a stated workload at AWS list prices, from the functions' measured calls (docs/performance.md).
cost: install
	$(BIN)/python -m bench.cost

# PIE's local stack against MLflow's registry server, same workload over REST (docs/performance.md).
# MLflow goes into its own virtualenv under bench/, never into the project's.
MLFLOW_VENV := bench/.mlflow-venv

$(MLFLOW_VENV)/bin/mlflow:
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MLFLOW_VENV)/bin/python -m pip install --quiet 'mlflow>=3,<4'

bench-mlflow: install $(MLFLOW_VENV)/bin/mlflow
	$(BIN)/python -m bench.mlflow_peer --mlflow $(MLFLOW_VENV)/bin/mlflow

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .pie-local node_modules

# cdk.out/ offline: no AWS account, no Node CLI. Example identity-provider values unless
# PIE_JWT_ISSUER / PIE_JWT_AUDIENCE are set (docs/deploy.md).
synth: install
	$(BIN)/python -m infra.app \
		-c jwtIssuer=$${PIE_JWT_ISSUER:-https://issuer.example.com/} \
		-c jwtAudience=$${PIE_JWT_AUDIENCE:-pie-api}
