"""Report codes and passphrases: generation, normalisation and the rules they follow."""

import re
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files

from zxcvbn import matching, scoring, time_estimates

from sipadu.services.identifying import plausible_nik

# log2(10**16) = 53.15 bits; drawn never to look like a NIK (new_code), log2(0.9723 x
# 10**16) = 53.11 bits (G7: at least 53)
CODE_DIGITS = 16
# Seven words of 2,048: 77 bits. The list is short so that every word is common and hard to
# miswrite (tools/make_wordlists.py, docs/reporter.md "Suggested passphrases").
SUGGESTED_WORDS = 7
WORDLIST_SIZE = 2048
MIN_REPORTER_PASSPHRASE = 10
# zxcvbn's score: 0 to 4 for fewer than 10**3, 10**6, 10**8, 10**10 and more guesses. A
# reporter's mailbox key is derived from the 16-digit code *and* the passphrase, so the
# passphrase is a second secret behind one nobody else holds: 2 (a million guesses at
# Argon2id's cost, each online guess limited) refuses repeats, runs, dates and common
# words with a digit, while a suggested passphrase (log10 of its guesses is 19 or more)
# passes every time. Staff passwords use 4 (sipadu.services.staff.MIN_PASSWORD_SCORE).
MIN_REPORTER_SCORE = 2
# zxcvbn refuses longer input (its work grows with the square of the length); a prefix
# of a password is never easier to guess than the whole, so scoring the prefix is safe.
ESTIMATE_PREFIX = 72
# The Indonesian ranked lists zxcvbn tries besides its English ones (sipadu/data/
# passwords-id/NOTICE.md says where each comes from); a file's line number is a word's rank.
INDONESIAN_LISTS = ("office", "common-words", "wikipedia", "names", "sequences")
# Words of SIPADU itself that every instance shares: the application, its roles (as
# stored and as shown) and the words of the four category names. The instance's own
# names (its office, region, city) come from SIPADU_PASSWORD_EXTRA_WORDS, and every
# staff account's username and name from the database (sipadu.services.staff).
INSTANCE_WORDS = (
    "sipadu",
    "whistleblowing",
    "admin",
    "investigator",
    "custodian",
    "auditor",
    "pemeriksa",
    "kustodian",
    "penyalahgunaan",
    "wewenang",
    "pelanggaran",
    "administrasi",
    "korupsi",
    "kolusi",
    "nepotisme",
    "disiplin",
    "pegawai",
    "abuse",
    "authority",
    "administrative",
    "violation",
    "staff",
    "discipline",
)
# Characters people put between words; the password is also scored without them, so
# "sipadu-sipadu" is seen as the repeat it is and "kata sandi saya" as two known words.
SEPARATORS = re.compile(r"[\s\-_.,/+|:;]+")
BRACKETS = str.maketrans("()[]{}\"'", " " * 8)
_extra_words: tuple[str, ...] = ()


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
    """Sixteen random digits (leading zeros allowed), uniform among those that have no
    NIK's structure (:func:`sipadu.services.identifying.plausible_nik`: 2.8 % of all
    16-digit strings have it, drawn again): a reporter who quotes their code, in groups
    of four or not, is never warned that it looks like a NIK, and a NIK copied in
    groups of four is never taken for a code."""
    while True:
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        if not plausible_nik(code):
            return code


def format_code(code: str) -> str:
    """``1234 5678 9012 3456``: easier to copy by hand without a mistake."""
    return " ".join(code[i : i + 4] for i in range(0, CODE_DIGITS, 4))


# What a person, a phone or a copy-paste puts between the digits of a code: spaces of
# any kind (Unicode Z*), line breaks and tabs (Cc), invisible marks (Cf: zero width
# spaces, the direction marks an Arabic or Hebrew keyboard adds) and every punctuation
# mark (P*): dashes, dots as in Indonesian digit grouping (1.234.567), commas as in
# English, apostrophes as in Swiss grouping (1'234), parentheses and quotes as a phone
# formats a number or a chat app quotes it, slashes, and their full-width and Arabic
# forms; and the minus sign (a math symbol). Other symbols ("+", letters) are refused.
_CODE_MARKS = frozenset("\u2212")
_SEPARATOR_CATEGORIES = ("Z", "Cc", "Cf", "P")
# A code typed with a separator between every digit and spaces around it is far shorter:
# a longer text is not a code, and is refused without looking at it further.
MAX_TYPED_CODE = 100


def normalize_code(typed: str) -> str:
    """The code as digits 0-9: every Unicode decimal digit (Arabic-Indic ``\u0661``,
    Devanagari, full-width ``\uff11``, ...) as its ASCII digit, every separator a person
    or phone may insert (spaces of any kind, line breaks, invisible marks, punctuation:
    :data:`_SEPARATOR_CATEGORIES`) removed. Anything else stays, so that
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


def configure_instance_words(phrases: Sequence[str]) -> None:
    """Set this instance's own names (:attr:`sipadu.settings.config.Config.instance_words`:
    ``SIPADU_PASSWORD_EXTRA_WORDS`` and the institution's name and address), tried first
    by every later estimate in this process. Called once by :func:`sipadu.app.create_app`
    and by the CLI; each phrase counts whole, word by word and joined."""
    global _extra_words
    _extra_words = tuple(phrases)


def vocabulary(phrases: Sequence[str]) -> list[str]:
    """The lower-cased forms a guesser tries for ``phrases``: each phrase as typed, its
    words, and the phrase without separators ("Kota Bandung" -> "kota bandung",
    "kota", "bandung", "kotabandung"), in the phrases' order, each once; then every run
    of two or more of a phrase's words, with spaces and joined ("Inspektorat Provinsi
    DKI Jakarta" -> ..., "inspektorat provinsi dki", "inspektoratprovinsidki", ...):
    zxcvbn adds a large cost per extra token, so "Inspektorat Provinsi DKI 2026" scores
    as strong unless "inspektorat provinsi dki" is one word to it."""
    return [form.lower() for form in _forms(phrases)]


def _forms(phrases: Sequence[str]) -> list[str]:
    """:func:`vocabulary`'s forms in the case the phrases are written in, each once."""
    base: list[str] = []
    runs: list[str] = []
    for phrase in phrases:
        # Brackets split too: "Inspektorat ... Jakarta (contoh)" gives "contoh".
        spaced = " ".join(phrase.translate(BRACKETS).split())
        words = [w for w in SEPARATORS.split(spaced) if w]
        base += [form for form in (spaced, *words, SEPARATORS.sub("", spaced)) if form]
        for start in range(len(words)):
            for end in range(start + 2, len(words) + 1):
                runs += [" ".join(words[start:end]), "".join(words[start:end])]
    out: dict[str, str] = {}
    for form in (*base, *runs):
        out.setdefault(form.lower(), form)
    return list(out.values())


def _as_written(phrases: Sequence[str]) -> frozenset[str]:
    """The forms of ``phrases`` exactly as the instance writes them (its name is on every
    reporter page): typed in that case they cost a guesser no case guessing."""
    return frozenset(_forms(phrases))


@cache
def _indonesian() -> dict[str, dict[str, int]]:
    lists = files("sipadu.data").joinpath("passwords-id")
    return {
        f"id_{name}": matching.build_ranked_dict(
            lists.joinpath(f"{name}.txt").read_text(encoding="utf-8").splitlines()
        )
        for name in INDONESIAN_LISTS
    }


@dataclass(frozen=True)
class Estimate:
    score: int  # zxcvbn's 0 to 4: fewer than 10**3, 10**6, 10**8, 10**10 guesses, or more
    guesses: float
    sequence: Sequence[Mapping[str, object]]  # zxcvbn's matches, e.g. pattern, token


def estimate(password: str, user_inputs: Sequence[str] = ()) -> Estimate:
    """zxcvbn's estimate of the first :data:`ESTIMATE_PREFIX` characters, with its
    English lists, the Indonesian ones, and a list tried first: :data:`INSTANCE_WORDS`,
    the configured instance words and ``user_inputs``. The password without its
    separators is scored too, and the easier of the two is returned.

    zxcvbn's own entry point keeps the user inputs in a module-wide dictionary (two
    threads would see each other's); this builds the dictionaries per call instead."""
    first = vocabulary([*INSTANCE_WORDS, *_extra_words, *user_inputs])
    written = _as_written([*INSTANCE_WORDS, *_extra_words, *user_inputs])
    dictionaries = {
        **matching.RANKED_DICTIONARIES,
        **_indonesian(),
        "user_inputs": matching.build_ranked_dict(first),
    }
    results = []
    for candidate in {password[:ESTIMATE_PREFIX], SEPARATORS.sub("", password)[:ESTIMATE_PREFIX]}:
        if not candidate:
            continue
        matches = matching.omnimatch(candidate, dictionaries)
        for match in matches:
            if match.get("dictionary_name") == "user_inputs" and match["token"] in written:
                match["token"] = str(match["token"]).lower()  # no case variation to guess
            if match["pattern"] == "repeat":  # zxcvbn scores the repeated part without them
                base = str(match["base_token"])
                inner = scoring.most_guessable_match_sequence(
                    base, matching.omnimatch(base, dictionaries)
                )
                match["base_guesses"] = inner["guesses"]
                match["base_matches"] = inner["sequence"]
        result = scoring.most_guessable_match_sequence(candidate, matches)
        guesses = float(result["guesses"])
        score = int(time_estimates.guesses_to_score(guesses))  # type: ignore[arg-type]
        results.append(Estimate(score, guesses, list(result["sequence"])))
    return min(results, key=lambda r: r.guesses)


def passphrase_problem(
    passphrase: str,
    minimum: int = MIN_REPORTER_PASSPHRASE,
    *,
    min_score: int = MIN_REPORTER_SCORE,
    user_inputs: Sequence[str] = (),
) -> PassphraseProblem | None:
    """None if the passphrase is long enough and :func:`estimate` scores it at least
    ``min_score`` (``user_inputs``, e.g. the person's username, among the words tried
    first); otherwise the main reason it is easy to guess."""
    normalized = normalize_passphrase(passphrase)
    if len(normalized) < minimum:
        return PassphraseProblem.TOO_SHORT
    if normalized.lower() in common_passwords():
        return PassphraseProblem.COMMON
    result = estimate(normalized, user_inputs)
    if result.score >= min_score:
        return None
    return _main_weakness(result.sequence)


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
