#!/usr/bin/env bash
# Re-extract translatable strings into portal/translations/messages.pot and merge them
# into the nl, en and fr catalogues (creating a catalogue when it is missing).
# English is the source language: its catalogue stays untranslated (msgid is shown).
# Afterwards translate the new, empty entries in nl and fr, and check any marked
# "#, fuzzy"; `make run` and `make test` compile the catalogues
# (pybabel compile -d portal/translations; the .mo files are not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
POT=portal/translations/messages.pot
VERSION=$("$BIN/python" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')

"$BIN/pybabel" extract -F babel.cfg -k _l -k lazy_gettext -k N_ \
  --no-location --sort-output \
  --project Betaalportaal --version "$VERSION" --copyright-holder Betaalportaal \
  -o "$POT" .

for lang in nl en fr; do
  po="portal/translations/$lang/LC_MESSAGES/messages.po"
  if [ -f "$po" ]; then
    "$BIN/pybabel" update --no-fuzzy-matching -i "$POT" -d portal/translations -l "$lang"
  else
    "$BIN/pybabel" init -i "$POT" -d portal/translations -l "$lang"
  fi
done

# What is left to translate (English needs nothing: it is the source).
"$BIN/python" - <<'PY'
from babel.messages.pofile import read_po

for lang in ("nl", "fr"):
    with open(f"portal/translations/{lang}/LC_MESSAGES/messages.po", "rb") as f:
        catalog = read_po(f)
    todo = [m.id for m in catalog if m.id and (m.fuzzy or not all(
        m.string if isinstance(m.string, tuple) else (m.string,)))]
    print(f"{lang}: {len(catalog)} messages, {len(todo)} untranslated or fuzzy")
    for msgid in todo:
        print("   ", msgid)
PY
