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
APT_PACKAGES := frr gobgpd nftables iproute2 openssl curl
ALLURE_DIR := allure-results

.PHONY: help demo test deps venv lint clean

help:
	@echo "make demo   bring the embedded lab up, run suites/ on it (Allure results in $(ALLURE_DIR)/), bring it down"
	@echo "make test   lint, then the project's own tests: fast ones first, then the lab tests (root)"
	@echo "make deps | venv | lint | clean"

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

# Lab tests run after the fast ones and need root; without it they skip themselves.
test: deps venv lint
	$(BIN)/pytest tests -m "not lab"
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
		echo "make demo: Allure results in $(CURDIR)/$(ALLURE_DIR)"; \
		if command -v allure >/dev/null; then \
			echo "make demo: view them with: allure serve $(ALLURE_DIR)"; \
		else \
			echo "make demo: to view them, install the Allure command-line tool and run: allure serve $(ALLURE_DIR)"; \
		fi; \
	fi; \
	exit $$rc

clean:
	rm -rf $(VENV) $(ALLURE_DIR) allure-report .pytest_cache .mypy_cache .ruff_cache build dist \
		*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
