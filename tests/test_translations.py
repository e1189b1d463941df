"""Bahasa Indonesia first: every user-facing string has an Indonesian translation, and
the compiled catalogue the app loads matches its source."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import sipadu

PACKAGE = Path(sipadu.__file__).parent
CATALOG = PACKAGE / "translations" / "id" / "LC_MESSAGES"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def source_messages() -> set[str]:
    found = set()
    extracted = extract_from_dir(str(PACKAGE), METHODS, keywords=KEYWORDS)
    for _file, _line, message, _comments, _context in extracted:
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_user_facing_string_is_translated_to_indonesian():
    with (CATALOG / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="id")
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(source_messages() - translated)
    assert missing == [], "run `make translations`, then translate in the id messages.po"


def test_compiled_catalogue_matches_its_source():
    mo = CATALOG / "messages.mo"
    assert mo.exists(), "run `make translations` (make test and make run do it)"
    with (CATALOG / "messages.po").open("rb") as handle:
        source = {m.id: m.string for m in read_po(handle, locale="id") if m.id}
    with mo.open("rb") as handle:
        compiled = {m.id: m.string for m in read_mo(handle) if m.id}
    assert compiled == source


def test_every_refusal_reason_of_the_services_has_a_translation():
    """Services give English reasons; the staff pages translate each through
    sipadu.investigator.reasons. A reason that no pattern matches would reach an
    Indonesian page in English: every `raise …Error("…")` in services must match."""
    import ast

    from sipadu.investigator.reasons import REASONS

    root = Path(__file__).resolve().parent.parent / "sipadu" / "services"
    unmatched = []
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                first = node.exc.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    text = first.value
                elif isinstance(first, ast.JoinedStr):
                    text = "".join(
                        part.value if isinstance(part, ast.Constant) else "sample"
                        for part in first.values
                    )
                else:
                    continue
                if not any(pattern.search(text) for pattern, _ in REASONS):
                    unmatched.append(f"{path.name}: {text}")
    # Reasons no staff page shows: they become a 404, a reporter page of its own, or
    # guard a path staff cannot reach.
    allowed = {
        "bad page cursor",
        "no such file",
        "no such report",
        "category is not accepting",
        "unknown category",
        "report code collision",
        "for this recipient",
    }
    unmatched = [u for u in unmatched if not any(a in u for a in allowed)]
    assert unmatched == []
