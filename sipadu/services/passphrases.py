"""Report codes and passphrases: generation, normalisation and the rules they follow."""

import secrets
import unicodedata
from enum import StrEnum
from functools import cache
from importlib.resources import files

CODE_DIGITS = 16  # log2(10**16) = 53.2 bits (G7: at least 53)
SUGGESTED_WORDS = 6
MIN_REPORTER_PASSPHRASE = 10


class PassphraseProblem(StrEnum):
    TOO_SHORT = "too_short"
    COMMON = "common"


@cache
def wordlist() -> tuple[str, ...]:
    """7,776 Indonesian root words (see tools/make_wordlists.py for source and licence)."""
    words = files("sipadu.data").joinpath("wordlist-id.txt").read_text().split()
    assert len(words) == len(set(words)) == 7776
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


def normalize_code(typed: str) -> str:
    """Remove spaces and dashes; whatever remains is looked up (malformed input does the
    same work as a wrong code and gets the same answer)."""
    return "".join(ch for ch in typed if ch not in " -\t\u00a0")


def suggest_passphrase() -> str:
    """Six words chosen uniformly from 7,776: 77.5 bits."""
    words = wordlist()
    return " ".join(secrets.choice(words) for _ in range(SUGGESTED_WORDS))


def normalize_passphrase(passphrase: str) -> str:
    """NFC and collapsed whitespace, so the same words typed on another device match."""
    return " ".join(unicodedata.normalize("NFC", passphrase).split())


def passphrase_problem(
    passphrase: str, minimum: int = MIN_REPORTER_PASSPHRASE
) -> PassphraseProblem | None:
    normalized = normalize_passphrase(passphrase)
    if len(normalized) < minimum:
        return PassphraseProblem.TOO_SHORT
    if normalized.lower() in common_passwords():
        return PassphraseProblem.COMMON
    return None


def mailbox_secret(code: str, passphrase: str) -> bytes:
    """What the mailbox key is derived from. The code is exactly 16 ASCII digits, so
    plain concatenation is unambiguous."""
    return code.encode("ascii") + normalize_passphrase(passphrase).encode("utf-8")
