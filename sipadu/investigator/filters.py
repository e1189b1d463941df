"""Template filters of the staff portal."""

from collections.abc import MutableMapping

import bleach
from markupsafe import Markup, escape

# A link's attributes as bleach hands them to a callback: (namespace, name) -> value.
_Attrs = MutableMapping[tuple[str | None, str], str]


def linkify(text: str) -> Markup:
    """Plain text, escaped, with web links made clickable and nothing else: staff and
    reporter messages are never rendered as HTML (bleach only adds the links)."""

    def safe_link(attrs: _Attrs, new: bool = False) -> _Attrs:
        attrs[(None, "rel")] = "noopener noreferrer nofollow"
        attrs[(None, "target")] = "_blank"
        return attrs

    return Markup(  # noqa: S704 — escaped first; bleach adds only <a href> to http(s) URLs
        bleach.linkify(str(escape(text)), callbacks=[safe_link], parse_email=False)
    )
