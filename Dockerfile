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
RUN pip install --no-cache-dir .

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
