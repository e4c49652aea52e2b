# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test kube bench mutation lint format emulator clean chromium screenshots

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# checkov pins many libraries of its own: it gets a venv of its own, so pip never has to reconcile them with ours.
.venv-checkov/.installed:
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install -q --upgrade pip
	.venv-checkov/bin/python -m pip install -q checkov==3.3.30
	touch $@

# The real Azure CLI, which a fidelity test drives against the local cloud; it pins hundreds of SDKs of its own, so it
# gets a venv of its own too (~3 min to install from a warm pip cache).
.venv-az/.installed:
	$(PYTHON) -m venv .venv-az
	.venv-az/bin/python -m pip install -q --upgrade pip
	.venv-az/bin/python -m pip install -q azure-cli==2.91.0
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

deps: $(VENV)/.installed node_modules/.installed .venv-checkov/.installed

# The installs wait mostly on the network and on unpacking, so they run side by side (a fresh clone's `make test`
# spends minutes here; CI calls plain `make test`, hence the sub-make).
INSTALL := $(MAKE) --no-print-directory -j4

# The demo needs only the venv: no checkov, no Azurite (node_modules), no Azure CLI.
demo: $(VENV)/.installed
	$(PY) -m demo

# The report's browser test (tests/browser) drives Debian's chromium over the DevTools protocol; installed if missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# The real Kubernetes control plane (tools/localkube: etcd, kube-apiserver, controllers, simulated nodes), compiled
# from its pinned Go modules into ~/.cache/sc-autopilot/localkube/<source digest>/: minutes cold, a lookup warm.
kube: $(VENV)/.installed
	$(PY) -m emulator.realkube.build

test:
	$(INSTALL) deps .venv-az/.installed chromium
	$(PY) -m emulator.realkube.build
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q -n 2

# Not part of `make test`: the end-to-end walk of every catalogue target and auth type (make test runs 4 of them).
test-targets: deps
	$(PY) -m pytest -q -n 2 -m all_targets tests/e2e/test_every_target.py

# Not part of `make test`: minutes to an hour (N = 50, 200, 1000). BENCH_ARGS="--sizes 50 --runs 1" for a taste.
bench: $(VENV)/.installed
	$(PY) -m bench $(BENCH_ARGS)

$(VENV)/.mutmut: $(VENV)/.installed requirements-mutation.txt
	$(PY) -m pip install -q -r requirements-mutation.txt
	touch $@

# Not part of `make test`: mutmut over shared/core against the fast suite (tests/unit + tests/properties, no
# emulator): an hour or more on 2 cores. Always afresh (mutmut would keep which tests cover what from an earlier
# run and never run a new test on an old mutant); MUTANTS="shared.core.orphans*" runs one module. The properties
# run SC_PROPERTY_EXAMPLES examples each, fewer than in `make test`: the score is a lower bound. Survivors are
# killed by a test or justified in tests/mutation_equivalents/ (README, Contributing).
MUTANTS ?=
MUTMUT_CHILDREN ?= 2
mutation: $(VENV)/.mutmut
	rm -rf mutants
	SC_PROPERTY_EXAMPLES=40 $(VENV)/bin/mutmut run --max-children $(MUTMUT_CHILDREN) $(MUTANTS) > mutants.log 2>&1 || (tail -c 3000 mutants.log; false)
	$(PY) -m tests.mutation_score

# The README's report screenshots (docs/img), from the 300-cluster report of the browser test.
screenshots: $(VENV)/.installed chromium
	SC_SCREENSHOTS=docs/img $(PY) -m pytest -q tests/browser

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.installed
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# The local cloud delivers its Event Grid events where `sc-autopilot watch` listens, as Event Grid does to the Functions
# host (README, Play). SC_WATCH_PORT moves both. `make emulator KUBE=real`: each AKS cluster is a real control plane
# (built first if missing, see `kube`).
SC_WATCH_PORT ?= 7071
emulator: $(VENV)/.installed
	$(PY) -m emulator serve --scenario emulator/scenarios/demo.yaml --env-file .local-cloud.env \
	  --deliver-events-to "http://127.0.0.1:$(SC_WATCH_PORT)/runtime/webhooks/eventgrid?functionName=on_resource_event" \
	  $(if $(KUBE),--kube $(KUBE))

clean:
	rm -rf $(VENV) .venv-checkov .venv-az node_modules .pytest_cache .ruff_cache .hypothesis mutants mutants.log
