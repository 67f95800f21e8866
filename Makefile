# Two commands for a fresh machine:
#   make run    set everything up, then start the server on the embedded defaults
#   make test   set everything up, then lint (make lint) and run the test suite
# Setup is a virtual environment in .venv (pip) plus the system tools the
# project needs (espeak-ng for simulated callers, a C++ toolchain and cmake
# for llama-cpp-python, chromium for the dashboard's browser tests, SIPp as the SIP
# peer in tests), installed with apt-get when missing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := espeak-ng g++ cmake chromium sip-tester
# llama-cpp-python (the embedded LLM) is compiled for this CPU, but without llama.cpp's
# AMX kernels: on CPUs with AMX they die of SIGILL where the kernel has not enabled AMX
# tile data for the worker thread (ggml-org/llama.cpp#26954), taking the server down.
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CMAKE_ARGS = $(shell echo | g++ $(NO_AMX) -x c++ -E - >/dev/null 2>&1 && \
	echo "-DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)'")
LLAMA_REQUIREMENT = $(shell grep -o '"llama-cpp-python[^"]*"' pyproject.toml)

.PHONY: run test lint setup system-deps llama call bench clean

run: setup
	$(BIN)/phoneagent-server

test: setup lint
	$(BIN)/python -m pytest

# ruff's rules and formatting as pinned in pyproject (seconds; make test runs it first).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

call: setup
	$(BIN)/phoneagent-call

bench: setup
	$(BIN)/python bench/calls.py

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@$(MAKE) --no-print-directory system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@$(MAKE) --no-print-directory llama
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# (Re)build llama-cpp-python when it is missing or was built with AMX kernels;
# never from pip's wheel cache, which may hold a build with other flags.
llama:
	@if ! $(BIN)/python -c "import sys, llama_cpp; sys.exit(b'AMX_INT8 = 1' in llama_cpp.llama_print_system_info())" 2>/dev/null; then \
		echo "Building llama-cpp-python for this CPU (a few minutes)"; \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet --no-cache-dir --force-reinstall --no-deps $(LLAMA_REQUIREMENT); \
	fi

system-deps:
	@missing=""; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	command -v cmake >/dev/null || missing="$$missing cmake"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v sipp >/dev/null || missing="$$missing sip-tester"; \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:$$missing"; \
		$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $$missing; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache
