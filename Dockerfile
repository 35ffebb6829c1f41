# syntax=docker/dockerfile:1
# One image for the five services and the operator:
#   evently serve <service>   (the entrypoint is `evently`)
#   evently-operator          (the chart sets it as the operator's command)
# The wheel is built WITHOUT the `embedded` extra: clusters use a real PostgreSQL.
# Targets: `runtime` (the default, last) for clusters; `dev` for Tilt's live update.
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
COPY --chmod=0755 <<'SCRIPT' /usr/local/bin/evently-reload
#!/bin/sh
# Run "$@"; re-run it after `evently-restart`; exit with its status when it exits alone.
set -u
state="${EVENTLY_RELOAD_STATE:-/tmp/evently-reload}"
mkdir -p "$state"
stopping=0
child=0
stop() { stopping=1; kill -TERM "$child" 2>/dev/null; }
trap stop TERM INT
while :; do
  rm -f "$state/restart"
  "$@" &
  child=$!
  echo "$child" > "$state/pid"
  while :; do
    wait "$child"
    status=$?
    kill -0 "$child" 2>/dev/null || break
  done
  if [ "$stopping" = 1 ] || [ ! -e "$state/restart" ]; then
    exit "$status"
  fi
  echo "evently-reload: sources changed, restarting $*" >&2
done
SCRIPT
COPY --chmod=0755 <<'SCRIPT' /usr/local/bin/evently-restart
#!/bin/sh
# Ask evently-reload to re-run its process (Tilt's live update runs this).
state="${EVENTLY_RELOAD_STATE:-/tmp/evently-reload}"
[ -s "$state/pid" ] || exit 0
touch "$state/restart"
kill -TERM "$(cat "$state/pid")"
SCRIPT
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
