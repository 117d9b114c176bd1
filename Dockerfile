# stock-lstm: the API by default (the `serve` extra: ONNX Runtime, no TensorFlow), or an image
# that can also train (build argument EXTRAS=train,serve), with the Makefile's own commands.
#   docker build -t stock-lstm .                                                # serve only
#   docker build -t stock-lstm-train --build-arg EXTRAS=train,serve .
#   docker run --rm -v stock-lstm-data:/app/data stock-lstm-train make pipeline  # train
#   docker run --rm -p 8000:8000 -v stock-lstm-data:/app/data stock-lstm        # serve
# Point DATABASE_URL at PostgreSQL to share the database (and so the model registry) between
# containers: every API worker serves the registry's champion.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    KEDRO_DISABLE_TELEMETRY=1 \
    ORT_DISABLE_TELEMETRY=1 \
    STOCK_LSTM_PROJECT_ROOT=/app \
    DATABASE_URL=sqlite:////app/data/stock_lstm.db

RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 app

WORKDIR /app

# Dependencies first (cached layer): the locked set, the serving extra unless told otherwise.
ARG EXTRAS=serve
COPY --chown=app:app pyproject.toml constraints.txt README.md Makefile ./
COPY --chown=app:app src ./src
RUN make setup EXTRAS=$EXTRAS PYTHON=python3.11 && chown -R app:app /app

COPY --chown=app:app conf ./conf
COPY --chown=app:app data/01_raw ./data/01_raw

USER app
# The database file and the versioned artifacts live here; keep them on a volume.
VOLUME ["/app/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/app/.venv/bin/python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]

CMD ["make", "serve", "HOST=0.0.0.0", "PORT=8000"]
