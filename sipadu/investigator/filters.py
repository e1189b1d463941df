"""Template filters of the staff portal."""

import re

from markupsafe import Markup, escape

# A web address as people write one: a scheme or "www.", up to a space or a character
# that cannot stand unquoted in one. Onion and numeric hosts too (no list of known
# top-level domains: a reporter's link to an onion service is a link all the same).
_ADDRESS = re.compile(r"\b(?:https?://|ftp://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
# What ends a sentence rather than the address ("see https://x.example/a.").
_TRAILING = ".,;:!?)]}"


def plain_links(text: str) -> Markup:
    """Plain text, escaped, with each web address marked for copying and never made a
    link: a click on a link a reporter (or anyone) wrote would fetch it from the
    investigator's browser and show its author the inspectorate's network address and
    the moment the message was read. The mark is text in ``<code class="address">``, which
    the style sheet makes selectable whole with one click (no script: the staff
    portal's policy allows none). Nothing a reporter or colleague types is rendered as
    HTML."""
    parts: list[str] = []
    start = 0
    for match in _ADDRESS.finditer(text):
        address = match.group(0)
        while address and address[-1] in _TRAILING and not _closes_its_own(address):
            address = address[:-1]
        parts.append(str(escape(text[start : match.start()])))
        parts.append(f'<code class="address" translate="no">{escape(address)}</code>')
        start = match.start() + len(address)
    parts.append(str(escape(text[start:])))
    return Markup("".join(parts))  # noqa: S704 — every piece of text escaped above


def _closes_its_own(address: str) -> bool:
    """Whether the closing bracket ending ``address`` belongs to it (a Wikipedia-style
    ``/Foo_(bar)``), not to the sentence around it."""
    closing = address[-1]
    opening = {")": "(", "]": "[", "}": "{"}.get(closing)
    return opening is not None and address.count(opening) >= address.count(closing)
