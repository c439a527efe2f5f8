#!/usr/bin/env bash
# A backup of the portal's database (flask backup), keeping BACKUP_KEEP_DAYS of them.
# deploy/systemd/betaalportaal-backup.timer runs it every night; README, "Backups", says
# how to restore one and how to copy them off the machine.
#   BACKUP_DIR        where backups go (default: backups/ in the project folder)
#   BACKUP_KEEP_DAYS  older ones are removed (default 14)
set -euo pipefail
cd "$(dirname "$0")/.."

bin=""
if [ -x .venv/bin/flask ]; then bin=".venv/bin/"; fi
dir="${BACKUP_DIR:-backups}"
keep="${BACKUP_KEEP_DAYS:-14}"

mkdir -p "$dir"
"${bin}flask" --app wsgi backup "$dir/portal-$(date -u +%Y%m%dT%H%M%SZ).backup"
find "$dir" -maxdepth 1 -name 'portal-*.backup' -mtime +"$keep" -delete
