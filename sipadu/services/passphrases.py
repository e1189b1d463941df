"""Report codes and passphrases: generation, normalisation and the rules they follow."""

import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from enum import StrEnum
from functools import cache
from importlib.resources import files

from zxcvbn import zxcvbn

CODE_DIGITS = 16  # log2(10**16) = 53.2 bits (G7: at least 53)
# Seven words of 2,048: 77 bits. The list is short so that every word is common and hard to
# miswrite (tools/make_wordlists.py, docs/reporter.md "Suggested passphrases").
SUGGESTED_WORDS = 7
WORDLIST_SIZE = 2048
MIN_REPORTER_PASSPHRASE = 10
# zxcvbn's score: 0 to 4 for fewer than 10**3, 10**6, 10**8, 10**10 and more guesses. A
# reporter's mailbox key is derived from the 16-digit code *and* the passphrase, so the
# passphrase is a second secret behind one nobody else holds: 2 (a million guesses at
# Argon2id's cost, each online guess limited) refuses repeats, runs, dates and common
# words with a digit, while a suggested passphrase (log10 of its guesses is near 30)
# passes every time. Staff passwords use 3 (sipadu.services.staff.MIN_PASSWORD_SCORE).
MIN_REPORTER_SCORE = 2
# zxcvbn refuses longer input (its work grows with the square of the length); a prefix
# of a password is never easier to guess than the whole, so scoring the prefix is safe.
ESTIMATE_PREFIX = 72
# Words a guesser tries first against this instance (zxcvbn's own lists are English):
# the region, the office and the system, and the words of the four category names.
INSTANCE_WORDS = (
    "jakarta",
    "indonesia",
    "inspektorat",
    "inspektur",
    "pemprov",
    "pemda",
    "provinsi",
    "dki",
    "balaikota",
    "lapor",
    "laporan",
    "pengaduan",
    "sipadu",
    "whistleblowing",
    "rahasia",
    "merdeka",
    "penyalahgunaan",
    "wewenang",
    "pelanggaran",
    "administrasi",
    "korupsi",
    "kolusi",
    "nepotisme",
    "kkn",
    "disiplin",
    "pegawai",
    "abuse",
    "authority",
    "administrative",
    "violation",
    "staff",
    "discipline",
)


class PassphraseProblem(StrEnum):
    """Why a passphrase or password is refused; each has its own message saying how to
    choose better."""

    TOO_SHORT = "too_short"
    COMMON = "common"  # a common password, a common word or name, or one of this office
    REPEATED = "repeated"  # a character or group of characters repeated
    SEQUENCE = "sequence"  # a run like 12345 or abcde, or a keyboard row like qwerty
    DATE = "date"  # a date or a year
    GUESSABLE = "guessable"  # short and simple in some other way


@cache
def wordlist() -> tuple[str, ...]:
    """2,048 common Indonesian root words, curated to be copied on paper without error
    (see tools/make_wordlists.py for rules, source and licence)."""
    words = files("sipadu.data").joinpath("wordlist-id.txt").read_text().split()
    assert len(words) == len(set(words)) == WORDLIST_SIZE
    return tuple(words)


@cache
def common_passwords() -> frozenset[str]:
    return frozenset(files("sipadu.data").joinpath("common-passwords.txt").read_text().split())


def new_code() -> str:
    """Sixteen uniformly random digits (leading zeros allowed)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def format_code(code: str) -> str:
    """``1234 5678 9012 3456``: easier to copy by hand without a mistake."""
    return " ".join(code[i : i + 4] for i in range(0, CODE_DIGITS, 4))


# What a person, a phone or a copy-paste puts between the digits of a code, besides
# spaces of any kind (Unicode Z*), line breaks and tabs (Cc), invisible marks (Cf: zero
# width spaces, the direction marks an Arabic or Hebrew keyboard adds) and dashes (Pd):
# dots as in Indonesian digit grouping (1.234.567), commas as in English, middle dots,
# slashes, underscores, the minus sign, and their full-width and Arabic forms.
_CODE_MARKS = frozenset(".,\u00b7\u2024\u2027\u30fb\uff0e\uff0c\uff65/_\u2212\u066b\u066c\u060c")
_SEPARATOR_CATEGORIES = ("Z", "Cc", "Cf", "Pd")
# A code typed with a separator between every digit and spaces around it is far shorter:
# a longer text is not a code, and is refused without looking at it further.
MAX_TYPED_CODE = 100


def normalize_code(typed: str) -> str:
    """The code as digits 0-9: every Unicode decimal digit (Arabic-Indic ``\u0661``,
    Devanagari, full-width ``\uff11``, ...) as its ASCII digit, every separator a person
    or phone may insert (spaces of any kind, line breaks, dashes, dots, commas,
    invisible marks: :data:`_CODE_MARKS`) removed. Anything else stays, so that
    :func:`sipadu.services.mailbox.well_formed_code` refuses it; a text longer than
    :data:`MAX_TYPED_CODE` characters comes back as it is (and is refused there)."""
    if len(typed) > MAX_TYPED_CODE:
        return typed
    kept = []
    for ch in typed:
        if ch in _CODE_MARKS or unicodedata.category(ch).startswith(_SEPARATOR_CATEGORIES):
            continue
        value = unicodedata.decimal(ch, None)
        kept.append(str(value) if value is not None else ch)
    return "".join(kept)


def suggest_passphrase() -> str:
    """Seven words chosen uniformly from 2,048: 77 bits."""
    words = wordlist()
    return " ".join(secrets.choice(words) for _ in range(SUGGESTED_WORDS))


def normalize_passphrase(passphrase: str) -> str:
    """NFC and collapsed whitespace, so the same words typed on another device match."""
    return " ".join(unicodedata.normalize("NFC", passphrase).split())


def passphrase_problem(
    passphrase: str,
    minimum: int = MIN_REPORTER_PASSPHRASE,
    *,
    min_score: int = MIN_REPORTER_SCORE,
    user_inputs: tuple[str, ...] = (),
) -> PassphraseProblem | None:
    """None if the passphrase is long enough and zxcvbn scores it at least ``min_score``
    with :data:`INSTANCE_WORDS` and ``user_inputs`` (e.g. the person's username) among the
    words it tries first; otherwise the main reason it is easy to guess."""
    normalized = normalize_passphrase(passphrase)
    if len(normalized) < minimum:
        return PassphraseProblem.TOO_SHORT
    if normalized.lower() in common_passwords():
        return PassphraseProblem.COMMON
    words = [*INSTANCE_WORDS, *(word.lower() for word in user_inputs if word)]
    estimate = zxcvbn(normalized[:ESTIMATE_PREFIX], user_inputs=words)
    if estimate["score"] >= min_score:
        return None
    return _main_weakness(estimate["sequence"])


_WEAKNESS = {
    "repeat": PassphraseProblem.REPEATED,
    "sequence": PassphraseProblem.SEQUENCE,
    "spatial": PassphraseProblem.SEQUENCE,
    "date": PassphraseProblem.DATE,
    "regex": PassphraseProblem.DATE,  # zxcvbn's only regex is a recent year
    "dictionary": PassphraseProblem.COMMON,
}


def _main_weakness(matches: Sequence[Mapping[str, object]]) -> PassphraseProblem:
    """The pattern covering the most characters names the weakness."""
    known = [(len(str(m["token"])), str(m["pattern"])) for m in matches]
    known = [(length, pattern) for length, pattern in known if pattern in _WEAKNESS]
    if not known:
        return PassphraseProblem.GUESSABLE
    return _WEAKNESS[max(known, key=lambda k: k[0])[1]]


def mailbox_secret(code: str, passphrase: str) -> bytes:
    """What the mailbox key is derived from. The code is exactly 16 ASCII digits, so
    plain concatenation is unambiguous."""
    return code.encode("ascii") + normalize_passphrase(passphrase).encode("utf-8")
