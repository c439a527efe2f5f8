"""Widening the Content-Security-Policy for the few pages that need more than the default.

Every page gets the strict policy of `portal.CSP`; a page that needs one more source for a
directive (the pay pages: the provider's checkout in `form-action`) adds it here.
"""

from __future__ import annotations

from collections.abc import Iterable


def add_sources(policy: str, directive: str, sources: Iterable[str]) -> str:
    """`policy` with `sources` added to `directive`, skipping those it lists already.

    A `'none'` in the directive gives way to the sources; a directive the policy lacks is
    appended. Sources must be plain origins or keywords (no `;` or `,`).
    """
    parts = [part.strip() for part in policy.split(";") if part.strip()]
    extra = [s for s in dict.fromkeys(sources) if s]
    if any(c in s for s in extra for c in ";,\r\n"):
        raise ValueError(f"not a CSP source: {extra!r}")
    for index, part in enumerate(parts):
        name, *values = part.split()
        if name.lower() != directive:
            continue
        kept = [v for v in values if v != "'none'"] if extra else values
        parts[index] = " ".join([name, *kept, *(s for s in extra if s not in kept)])
        return "; ".join(parts)
    return "; ".join([*parts, " ".join([directive, *extra])]) if extra else policy
