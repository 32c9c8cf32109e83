# One image for both entry points: `herald gateway` and `herald operator` (the Helm chart
# sets the command). Build from the repository root:
#   docker build -t herald:0.1.0 .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build stage: install Herald with both extras into a virtual environment. Every
# dependency ships manylinux wheels, so no compiler is needed.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/herald
COPY pyproject.toml README.md ./
COPY gateway/ gateway/
COPY operator/ operator/
RUN /opt/herald/bin/pip install --no-cache-dir ".[gateway,operator]" \
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
