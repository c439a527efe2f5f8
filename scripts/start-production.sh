#!/usr/bin/env bash
# The one way the portal starts in production. The systemd units (deploy/systemd), the
# Dockerfile and compose.yaml all run this script, and tests/ops/test_deployment.py boots
# it: two web servers and two workers on one database and queue.
#
#   scripts/start-production.sh web      migrate, then serve with gunicorn (deploy/gunicorn.conf.py)
#   scripts/start-production.sh worker   migrate, then the worker (outbox, webhooks, periodic jobs)
#   scripts/start-production.sh migrate  only migrate
#
# Every process migrates before it starts: the first takes a lock (PostgreSQL advisory
# lock, or a file lock beside a SQLite file), the others wait and find nothing to do, so
# a deploy migrates once however many processes start together.
# Configuration comes from the environment (README, "Configuration"); run it from the
# project folder's virtualenv (.venv) or with the portal installed on PATH (the image).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=""
if [ -x .venv/bin/flask ]; then bin=".venv/bin/"; fi

usage() { echo "usage: $0 web|worker|migrate" >&2; }

case "${1:-}" in
  web)
    "${bin}flask" --app wsgi db upgrade
    # prometheus-client's multiprocess mode: each gunicorn worker writes its counters to
    # files here and /metrics adds them up. One folder per gunicorn, emptied at start.
    if [ -z "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
      PROMETHEUS_MULTIPROC_DIR="$(mktemp -d -t betaalportaal-metrics.XXXXXX)"
      export BETAALPORTAAL_METRICS_TMP=1  # gunicorn removes it when it stops
    fi
    export PROMETHEUS_MULTIPROC_DIR
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
    exec "${bin}gunicorn" --config deploy/gunicorn.conf.py wsgi:app
    ;;
  worker)
    "${bin}flask" --app wsgi db upgrade
    exec "${bin}flask" --app wsgi worker --workers "${WORKER_THREADS:-2}"
    ;;
  migrate)
    exec "${bin}flask" --app wsgi db upgrade
    ;;
  *)
    usage
    exit 2
    ;;
esac
