# Two commands for a fresh machine:
#   make run    set everything up, then start the server on the embedded defaults
#   make test   set everything up, then run the test suite
# Setup is a virtual environment in .venv (pip) plus the system tools the
# project needs (espeak-ng for simulated callers, a C++ toolchain and cmake
# for llama-cpp-python), installed with apt-get when missing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := espeak-ng g++ cmake

.PHONY: run test setup system-deps call bench clean

run: setup
	$(BIN)/phoneagent-server

test: setup
	$(BIN)/python -m pytest

call: setup
	$(BIN)/phoneagent-call

bench: setup
	$(BIN)/python bench/calls.py

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

system-deps:
	@missing=""; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	command -v cmake >/dev/null || missing="$$missing cmake"; \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:$$missing"; \
		$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $$missing; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache
