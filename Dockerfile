# One image for both entry points: `herald gateway` and `herald operator` (the Helm chart
# sets the command). Build from the repository root:
#   docker build -t herald:0.1.0 .
#
# The base is the official Python image pinned by digest: the digest two unrelated public
# Dockerfiles on GitHub pin for python:3.11-slim-bookworm (taken 2026-12-05; no registry is
# reachable where this file was written, so it was not pulled or verified). Refresh it with:
#   docker buildx imagetools inspect python:3.11-slim-bookworm
# Any Debian-based image with `python3` and its `venv` module works as the base, for both
# stages alike: `make image` builds from a locally bootstrapped Debian 12 (docs/image.md).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

# Build stage: Herald with both extras in a virtual environment at /opt/herald, synced from
# uv.lock (every package hash-checked). Every dependency ships manylinux wheels, so no
# compiler is needed. The venv links to the base's python3, so the runtime stage, from the
# same base, runs it unchanged at the same path.
FROM ${PYTHON_IMAGE} AS build
# Behind a TLS-intercepting egress proxy, pip and uv need its CA: bind-mount a CA bundle into
# the build and name it in both (`make image` passes the host's trust store this way). Unset
# by default; build arguments of this stage do not reach the runtime image.
ARG SSL_CERT_FILE
ARG PIP_CERT
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/herald \
    UV_NO_CACHE=1 \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1
WORKDIR /src
# uv itself, hash-checked, in a venv of its own that stays in this stage.
COPY requirements/uv.txt requirements/uv.txt
RUN python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir --require-hashes --only-binary :all: --no-deps \
       -r requirements/uv.txt
# The locked dependencies first (a layer that survives changes to Herald's own code), with
# the build backend: Herald is built without build isolation, from the `build` group.
COPY pyproject.toml uv.lock README.md ./
RUN /opt/uv/bin/uv sync --locked --python python3 --no-dev --group build \
       --extra gateway --extra operator --no-editable --no-install-project
# Then Herald itself, as a wheel (not editable); the second sync removes the build group.
COPY gateway/ gateway/
COPY operator/ operator/
RUN /opt/uv/bin/uv sync --locked --python python3 --no-dev --group build \
       --extra gateway --extra operator --no-editable \
    && /opt/uv/bin/uv sync --locked --python python3 --no-dev \
       --extra gateway --extra operator --no-editable \
    && /opt/herald/bin/herald --help > /dev/null

# Runtime stage: the virtual environment only, run as an unprivileged numeric user (so that
# Kubernetes can check runAsNonRoot) on a root filesystem that may be mounted read-only.
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="herald" \
      org.opencontainers.image.description="Self-hosted, Kubernetes-native HTTP message delivery that speaks the Upstash QStash v2 API" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 herald \
    && useradd --system --uid 10001 --gid herald --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin herald
COPY --from=build /opt/herald /opt/herald
ENV PATH=/opt/herald/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 8081
ENTRYPOINT ["herald"]
CMD ["gateway"]
