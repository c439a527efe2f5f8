"""Messages for people (importer, schedules): an English template plus its values,
translated when shown.

The domain knows no request and no language; it keeps the msgid (marked with `N_` so the
catalogue extraction finds it) and the values apart, and the admin pages, the errors
workbook and the CLI render them in the reader's language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def N_(text: str) -> str:
    """Mark a message for extraction; it is translated when it is shown."""
    return text


class Problem(ValueError):
    """A message for a person: `msgid` with `%(name)s` placeholders and their `params`."""

    def __init__(self, msgid: str, **params: Any) -> None:
        super().__init__(render(msgid, params))
        self.msgid = msgid
        self.params = params

    def translated(self, gettext: Callable[[str], str]) -> str:
        """The message through `gettext` (falls back to English where untranslated)."""
        return render(self.msgid, self.params, gettext)


def render(
    msgid: str, params: dict[str, Any], translate: Callable[[str], str] | None = None
) -> str:
    """The message in English, or through `translate` (a gettext) into another language."""
    text = translate(msgid) if translate else msgid
    return text % params if params else text
