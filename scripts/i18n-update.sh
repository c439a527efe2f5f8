#!/usr/bin/env bash
# Re-extract translatable strings and merge them into the nl, en and fr catalogues.
# Translate the new entries in portal/translations/*/LC_MESSAGES/messages.po afterwards;
# `make run` and `make test` compile them.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
$BIN/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
  -o portal/translations/messages.pot .
for lang in nl en fr; do
  po="portal/translations/$lang/LC_MESSAGES/messages.po"
  if [ -f "$po" ]; then
    $BIN/pybabel update --no-fuzzy-matching -i portal/translations/messages.pot -d portal/translations -l "$lang"
  else
    $BIN/pybabel init -i portal/translations/messages.pot -d portal/translations -l "$lang"
  fi
done
