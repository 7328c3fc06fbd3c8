# The two commands: `make dev` serves PIE locally, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: dev test install synth bench bench-mlflow openapi clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

HOST ?= 127.0.0.1
PORT ?= 8000

dev: install
	$(BIN)/pie-local serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest

# docs/openapi.json is generated from the route functions' models; a test fails when it drifts.
openapi: install
	$(BIN)/python -m shared.http.openapi > docs/openapi.json

# Cold starts, DynamoDB round trips, warm overhead, fan-out, dispatch and local API throughput,
# each against a baseline from the same run: one table on stdout, bench/results.json (docs/performance.md).
bench: install
	$(BIN)/python -m bench

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
	rm -rf $(VENV) cdk.out .pytest_cache .pie-local

# cdk.out/ offline: no AWS account, no Node CLI. Example identity-provider values unless
# PIE_JWT_ISSUER / PIE_JWT_AUDIENCE are set (docs/deploy.md).
synth: install
	$(BIN)/python -m infra.app \
		-c jwtIssuer=$${PIE_JWT_ISSUER:-https://issuer.example.com/} \
		-c jwtAudience=$${PIE_JWT_AUDIENCE:-pie-api}
