# One image for the five services and the operator:
#   evently serve <service>   (the entrypoint is `evently`)
#   evently-operator          (the chart sets it as the operator's command)
# The wheel is built WITHOUT the `embedded` extra: clusters use a real PostgreSQL.
# Targets: `runtime` (the default, last) for clusters; `dev` for Tilt's live update.
# It builds with docker 20.10's built-in frontend and no registry (make e2e): no `# syntax`
# line and no heredocs; scripts are files under hack/images/evently/.
ARG PYTHON_IMAGE=python:3.11-slim

# --- build: one wheel of the evently distribution, installed into a virtualenv ------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# README* tolerates a checkout without README.md (pyproject names it as the readme).
COPY pyproject.toml README* ./
COPY services ./services
COPY operator ./operator
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/evently \
 && /opt/evently/bin/pip install /wheels/evently-*.whl

# --- base: the runtime without build leftovers, and a non-root user ------------------
FROM ${PYTHON_IMAGE} AS base
ENV PATH=/opt/evently/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    PORT=8080
RUN groupadd --system --gid 10001 evently \
 && useradd --system --uid 10001 --gid evently --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin evently
COPY --from=build /opt/evently /opt/evently
WORKDIR /tmp
EXPOSE 8080

# --- dev: what Tilt builds --------------------------------------------------------
# Live update syncs sources into site-packages (so the user owns them) and then runs
# evently-restart. Given dev.reloadWrapper, the chart starts each process under
# evently-reload, which re-runs it on request and otherwise exits with its status (so
# Jobs still complete).
FROM base AS dev
COPY hack/images/evently/evently-reload hack/images/evently/evently-restart /usr/local/bin/
RUN chown -R evently:evently /opt/evently/lib/python3.11/site-packages/evently \
      /opt/evently/lib/python3.11/site-packages/evently_operator
USER 10001:10001
ENTRYPOINT ["evently"]
CMD ["--help"]

# --- runtime (the default target): read-only root filesystem friendly ---------------
# Nothing is written outside /tmp (the chart mounts an emptyDir there) and no bytecode.
FROM base AS runtime
USER 10001:10001
ENTRYPOINT ["evently"]
CMD ["--help"]
