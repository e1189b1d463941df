"""The systemd units the docs give (docs/*.md) must work as pasted: systemd takes ``#``
and ``;`` as comments only at the start of a line, so an inline ``# ...`` after a
setting becomes part of its value (``EnvironmentFile=/etc/sipadu/sipadu.env  # ...``
names a file that does not exist, and the portal does not start)."""

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
SECTION = re.compile(r"^\s*\[(Unit|Service|Timer|Install|Socket|Path)\]\s*$")
SETTING = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*)=(.*)$")


def unit_blocks(text: str) -> list[list[str]]:
    """The lines of each unit in ``text``: from a ``[Section]`` line to the end of its
    fenced or indented block."""
    blocks, current = [], None
    for line in text.splitlines():
        if SECTION.match(line):
            if current is None:
                current = []
                blocks.append(current)
            continue
        if current is not None:
            if line.strip().startswith("```") or (
                line
                and not line.startswith((" ", "\t"))
                and not SETTING.match(line)
                and not line.startswith(("#", ";"))
            ):
                current = None
            elif line.strip():
                current.append(line)
    return blocks


def test_no_unit_setting_in_the_docs_carries_an_inline_comment():
    found = []
    for path in sorted(DOCS.glob("*.md")):
        for block in unit_blocks(path.read_text()):
            for line in block:
                setting = SETTING.match(line)
                if setting and re.search(r"\s[#;]", setting.group(2)):
                    found.append(f"{path.name}: {line.strip()}")
    assert found == []


def test_the_check_sees_units_and_an_inline_comment():
    text = "    [Service]\n    User=sipadu\n    EnvironmentFile=/etc/x.env   # settings\n"
    (block,) = unit_blocks(text)
    assert "    EnvironmentFile=/etc/x.env   # settings" in block
    units = sum(len(unit_blocks(p.read_text())) for p in DOCS.glob("*.md"))
    assert units >= 4  # the portal, the digest's service and timer, the audit's
