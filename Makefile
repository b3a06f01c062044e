# FoldDeck: `make run` sets everything up and starts it; `make test` runs the whole test suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip -q --disable-pip-version-check
APT_PKGS := chromium chromium-driver openssh-server slurm-wlm munge slurmdbd mariadb-server
APT_PKGS += slapd  # the LDAP sign-in tests start a real OpenLDAP (tests/support/ldap_server.py)
APT_PKGS += nodejs  # the OIDC sign-in tests run the oidc-provider package (tests/support/oidc_provider)
# sudo: the Slurm login-node test submits as a person's own cluster user through `sudo -n -u` (issue 25)
APT_PKGS += sudo
# tests/test_deploy.py: `nginx -t` on deploy/'s site (Debian 12's nginx 1.22), `systemd-analyze verify` on its units
APT_PKGS += nginx systemd
PYTEST_ARGS ?=
# The suite runs in parallel: many tests wait on subprocesses, servers and browsers, so one worker more than
# the cores keeps the CPUs busy (twice the cores made timing tests flaky on 2 cores). loadgroup keeps each
# xdist_group (the one Slurm cluster) in one worker.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
PARALLEL := -n $(TEST_WORKERS) --dist loadgroup --durations=25

.PHONY: run smoke test test-fast test-browser test-service system-deps bench lint clean help

help:
	@echo "make run          set up .venv, migrate, ensure the admin account, start web + worker + sampler + sender"
	@echo "                 (the processes of services/platform/processes.py: deploy/ has one systemd unit each)"
	@echo "make test         install test dependencies (pip + apt when root) and run every test in parallel"
	@echo "                 (TEST_WORKERS=N sets the workers; prints the 25 slowest tests)"
	@echo "make test-fast    only the tests that need no browser and no real service"
	@echo "make test-browser / test-service   only those"
	@echo "make smoke        a newcomer's first run: make run with no settings starts, serves the login page, Ctrl-C"
	@echo "make bench        run the benchmarks in bench/ and print their figures"
	@echo "make lint         ruff (pyproject.toml)"

$(VENV)/.runtime: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.txt
	@touch $@

$(VENV)/.testing: $(VENV)/.runtime requirements-test.txt
	$(PIP) install -r requirements-test.txt
	@touch $@

run: $(VENV)/.runtime
	$(PY) -m dash_app

# Needs a fresh checkout (no data/folddeck.db) and the default port free; CI runs it after `make test`.
smoke: $(VENV)/.runtime
	.ci/first_run.sh

# Debian packages the real-service and browser tests need; installed only when missing and root.
system-deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "apt-get install$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && \
	    apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "not root: cannot install$$missing (those tests will be skipped)"; fi; \
	fi

test: $(VENV)/.testing system-deps
	$(PY) -m pytest $(PARALLEL) $(PYTEST_ARGS)

test-fast: $(VENV)/.testing
	$(PY) -m pytest -m "not browser and not service" $(PARALLEL) $(PYTEST_ARGS)

test-browser: $(VENV)/.testing system-deps
	$(PY) -m pytest -m browser $(PARALLEL) $(PYTEST_ARGS)

test-service: $(VENV)/.testing system-deps
	$(PY) -m pytest -m service $(PARALLEL) $(PYTEST_ARGS)

bench: $(VENV)/.testing
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: $(VENV)/.testing
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
