#!/usr/bin/env bash
# Installs the few Debian packages the portal needs, only when they are missing.
#   pango    - WeasyPrint's text layout (PDF copies and statements)
#   chromium - the real browser the end-to-end tests drive
set -euo pipefail

need=()
case "${1:-}" in
  pango)
    ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so' || need+=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)
    ;;
  chromium)
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
    ;;
  *) echo "usage: $0 pango|chromium" >&2; exit 2 ;;
esac

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${need[*]} from Debian's packages..."
  apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${need[@]}" >/dev/null
  }
else
  echo "Missing system packages: ${need[*]}" >&2
  echo "Install them with:  sudo apt-get install ${need[*]}" >&2
  exit 1
fi
