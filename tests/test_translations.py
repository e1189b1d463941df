"""Bahasa Indonesia first: every user-facing string has an Indonesian translation, and
the compiled catalogue the app loads matches its source."""

import ast
import re
from pathlib import Path

import pytest
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
    translated = {  # a plural message (ngettext) by its singular, with every form
        m.id if isinstance(m.id, str) else m.id[0]
        for m in catalog
        if m.id and not m.fuzzy and (all(m.string) if isinstance(m.string, tuple) else m.string)
    }
    missing = sorted(source_messages() - translated)
    assert missing == [], "run `make translations`, then translate in the id messages.po"


def _key(text: str | tuple[str, ...] | list[str]) -> str | tuple[str, ...]:
    """A message's id or string; a plural one's (ngettext) as a tuple of its forms."""
    return text if isinstance(text, str) else tuple(text)


def test_compiled_catalogue_matches_its_source():
    mo = CATALOG / "messages.mo"
    assert mo.exists(), "run `make translations` (make test and make run do it)"
    with (CATALOG / "messages.po").open("rb") as handle:
        source = {_key(m.id): _key(m.string) for m in read_po(handle, locale="id") if m.id}
    with mo.open("rb") as handle:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(handle) if m.id}
    assert compiled == source


def test_every_refusal_reason_has_a_message_in_english_and_indonesian():
    """Services refuse with a Reason; the portals and the CLI show it through one table.
    A reason missing from it would be a 500, and an untranslated one would reach an
    Indonesian page in English."""
    from flask import Flask

    from sipadu.services import Reason, ServiceError
    from sipadu.web.i18n import init_i18n
    from sipadu.web.refusal_messages import MESSAGES, message

    app = Flask("sipadu")  # the package's root: its translations directory
    init_i18n(app)
    for reason in Reason:
        assert reason in MESSAGES, reason
        source = str(MESSAGES[reason])  # outside a request: the English source
        names = re.findall(r"%\((\w+)\)s", source)
        refusal = ServiceError(reason, **{name: f"<{name}>" for name in names})
        words = {}
        for lang in ("en", "id"):
            with app.test_request_context(f"/?lang={lang}"):
                words[lang] = message(refusal)
        assert words["en"] == source % refusal.params == message(refusal), reason
        assert words["id"].strip() and words["id"] != words["en"], reason
        assert all(f"<{name}>" in words["id"] for name in names), reason


@pytest.mark.parametrize("portal", ["reporter", "staff"])
def test_every_upload_refusal_has_a_message_in_english_and_indonesian(portal):
    """Files are refused with a :class:`~sipadu.web.formdata.Refusal`; the page (the
    reporter's forms, the investigator's reply) says why through one table
    (:func:`sipadu.web.uploads.refusal_message`). A member missing from it would be a
    500 where the typed text should come back, and an untranslated one would reach an
    Indonesian page in English."""
    from flask import Flask

    from sipadu.settings.config import load_config
    from sipadu.web.formdata import STATUS, Refusal, UploadRefused
    from sipadu.web.i18n import init_i18n
    from sipadu.web.uploads import refusal_message

    app = Flask("sipadu")  # the package's root: its translations directory
    init_i18n(app)
    app.config["SIPADU_PORTAL"] = portal  # the advice differs: "in messages from your mailbox"
    app.extensions["sipadu.config"] = load_config({})  # the limits the messages name
    seen: dict[str, Refusal] = {}
    for reason in Refusal:
        assert reason in STATUS, reason
        words = {}
        for lang in ("en", "id"):
            with app.test_request_context(f"/?lang={lang}"):
                try:
                    words[lang] = refusal_message(UploadRefused(reason))
                    # Naming the file it is about, and the files to choose again.
                    named = refusal_message(
                        UploadRefused(reason, name="bukti.pdf"),
                        [f"bukti-{n}.pdf" for n in range(25)],
                    )
                except KeyError:
                    raise AssertionError(f"{reason!r} has no message") from None
                assert "bukti-24.pdf" not in named
                # Over the size limit the form is refused at its first file, the others
                # unread: every file is to be chosen again, none is named.
                assert ("bukti-19.pdf" in named) is (reason is not Refusal.REQUEST_TOO_LARGE)
                words[lang + "-named"] = named
        assert words["en"].strip() and words["en"] not in seen, (reason, seen.get(words["en"]))
        seen[words["en"]] = reason
        assert words["id"].strip() and words["id"] != words["en"], reason
        # Every sentence translated: none of the English one's survives in the Indonesian.
        english = [s for s in re.split(r"(?<=[.:])\s+", words["en"]) if len(s) > 20]
        assert not [s for s in english if s in words["id"]], reason
        english = re.split(r"(?<=[.:])\s+", words["en-named"])
        assert not [s for s in english if len(s) > 20 and s in words["id-named"]], reason


def _refusals_raised(source: str) -> list[tuple[str, set[str], int]]:
    """(reason name, keyword names, line) of every ``ServiceError(Reason.X, ...)`` and
    ``super().__init__(Reason.X, ...)`` in ``source``; a ``**`` argument is skipped (its
    names are not known until it runs)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        first = node.args[0]
        if not (
            isinstance(first, ast.Attribute)
            and isinstance(first.value, ast.Name)
            and first.value.id == "Reason"
        ):
            continue
        if any(k.arg is None for k in node.keywords):
            continue
        found.append((first.attr, {k.arg for k in node.keywords if k.arg}, node.lineno))
    return found


def test_every_refusal_carries_the_values_its_message_names():
    """A refusal raised without a value its message shows (``%(name)s``) is a KeyError,
    a 500, at the moment someone is refused: every raise in the services is read and
    its keyword arguments checked against its message."""
    from sipadu.services.refusals import Reason
    from sipadu.web.refusal_messages import MESSAGES

    missing = []
    for path in sorted((Path(sipadu.__file__).parent / "services").glob("*.py")):
        for reason, given, line in _refusals_raised(path.read_text()):
            named = set(re.findall(r"%\((\w+)\)s", str(MESSAGES[Reason[reason]])))
            if named - given:
                missing.append(f"services/{path.name}:{line} {reason} lacks {named - given}")
    assert not missing
    probe = 'raise ServiceError(Reason.USERNAME_TAKEN, "username")\n'
    assert _refusals_raised(probe) == [("USERNAME_TAKEN", set(), 1)]  # it would be caught


def test_the_indonesian_staff_wording_uses_one_word_for_an_investigator():
    """Issue 15 (review): the proposals' warning said "penyidik" where every other page
    says "pemeriksa": one role, one word."""
    with (CATALOG / "messages.po").open("rb") as handle:
        said = [m.string for m in read_po(handle, locale="id") if m.id and m.string]
    texts = [s if isinstance(s, str) else " ".join(s) for s in said]
    assert not [t for t in texts if "penyidik" in t.lower()]
    assert any("pemeriksa" in t.lower() for t in texts)
