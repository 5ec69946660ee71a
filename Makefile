# Every target does its own setup: a virtual environment with the Python
# dependencies and Debian's etcd-server when etcd is not on PATH.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench bench-multiprimary e2e e2e-sim e2e-kind protos setup etcd shellcheck chromium zsh clean peers faults

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@# xds-protos ships an older copy of opentelemetry/proto, which may overwrite
	@# opentelemetry-proto's files depending on install order: put those back.
	$(PY) -m pip install -q --no-deps --force-reinstall \
	  "opentelemetry-proto==$$($(PY) -c 'import importlib.metadata as m; print(m.version("opentelemetry-proto"))')"
	touch $(STAMP)

setup: $(STAMP) etcd shellcheck chromium zsh

etcd:
	@command -v etcd >/dev/null 2>&1 || { \
	  echo "installing Debian's etcd-server"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq etcd-server >/dev/null; }

# Headless Chromium for the dashboard's page tests.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# zsh: the completion test loads the zsh script in a real zsh.
zsh:
	@command -v zsh >/dev/null 2>&1 || { \
	  echo "installing Debian's zsh"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq zsh >/dev/null; }

shellcheck:
	@command -v shellcheck >/dev/null 2>&1 || { \
	  echo "installing Debian's shellcheck"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq shellcheck >/dev/null; }

# kubesim/ (the simulator and the demo), bench/ and tools/ are packages of the checkout, not of
# the product's wheel: they run from here, as `python -m`.
demo: setup
	$(PY) -m kubesim.demo --workdir $${WORKDIR:-.demo}

# The suite includes tests on real peers (kube-apiserver, istiod): they are built first.
test: setup peers
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench --grid full --out bench-results.json --plot bench-results.png
	$(PY) -m bench.vms --out bench-vms-results.json

# The hub beside Istio's own multi-primary on real peers, one mode after the other on fresh
# fleets (5 clusters × 100 services; shrink with e.g. BENCH_ARGS="--clusters 3 --services 20").
# Not part of `make test`.
bench-multiprimary: peers
	$(PY) -m peers.comparing --out bench-multiprimary.json $(BENCH_ARGS)

# The local e2e's scenarios on real peers (a kube-apiserver and an istiod per member);
# e2e-sim runs them against simulated clusters (fast, no peers needed).
e2e: peers
	E2E_PEERS=real bash e2e/local.sh

e2e-sim: setup
	bash e2e/local.sh

# Fault injection (hub killed, etcd down, members failing, replicas lost): a table of
# figures; exit status 1 on any lost object or unrecovered scenario.
faults: setup
	$(PY) -m tests.faults

e2e-kind:
	bash e2e/kind.sh

# Real kube-apiserver, pilot-discovery and istioctl for tests (pinned, cached in ~/.cache).
peers: setup
	$(PY) -m peers.building

protos: $(STAMP)
	$(PY) -m tools.protogen

clean:
	rm -rf $(VENV) .demo bench-results.json bench-multiprimary.json
