# The two commands: `make demo` runs the demo fleet, `make test` runs every
# test. Both set up what they need on a fresh machine first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# OpenLIT pins older provider clients and instruments every HTTP library of the process
# it starts in: its test agent runs apart, in an environment of its own.
OPENLIT_VENV := .venv-openlit
OPENLIT := openlit==1.45.0
TOOLS := .tools
BUF_VERSION := 1.75.0
BUF := $(TOOLS)/node_modules/.bin/buf
DEMO_ARGS ?=

# Debian's browser and its WebDriver, for the console's tests.
BROWSER_PACKAGES := chromium chromium-driver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install openlit tools browser kubectl setup demo test lint proto clean bench eval

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

openlit: $(OPENLIT_VENV)/.installed

$(OPENLIT_VENV)/.installed: Makefile
	test -x $(OPENLIT_VENV)/bin/python || $(PYTHON) -m venv $(OPENLIT_VENV)
	$(OPENLIT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(OPENLIT_VENV)/bin/python -m pip install --quiet '$(OPENLIT)'
	touch $@

tools: $(BUF)

$(BUF):
	npm install --silent --no-audit --no-fund --prefix $(TOOLS) @bufbuild/buf@$(BUF_VERSION)

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    $(BROWSER_PACKAGES) >/dev/null; }

# deploy/'s tests render the manifests with the kustomize built into kubectl.
kubectl:
	@kubectl kustomize --help >/dev/null 2>&1 || { \
	  echo "kubectl with kustomize (1.21 or newer) is needed to render deploy/: install it" >&2; \
	  exit 1; }

# The set-ups download from different registries, so they run side by side.
setup: kubectl
	$(MAKE) -j4 install openlit tools browser

demo: install
	$(VENV)/bin/immune-demo $(DEMO_ARGS)

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

proto: install tools
	$(BUF) lint
	$(BUF) generate

bench: install
	$(PY) -m bench

# Detection (a creep on a steady level and daily patterns too), healing-policy and fleet-safety scores (bench/README.md); EVAL_ARGS="--help".
EVAL_ARGS ?=
eval: install
	$(PY) -m bench.evaluation $(EVAL_ARGS)

clean:
	rm -rf $(VENV) $(OPENLIT_VENV) $(TOOLS) .pytest_cache .ruff_cache
