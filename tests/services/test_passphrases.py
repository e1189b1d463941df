"""Report codes and passphrases (:mod:`sipadu.services.passphrases`): 16 uniform digits
shown in groups and accepted typed any way; six-word suggestions from the Indonesian
list; the same words typed on another device open the same mailbox; too short or too
common is refused."""

import unicodedata

import pytest

from sipadu.services import passphrases as p


def test_a_code_is_sixteen_digits_shown_in_groups_of_four_and_typed_any_way():
    codes = {p.new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(code) == p.CODE_DIGITS and code.isdigit() for code in codes)
    assert p.format_code("0012345678901234") == "0012 3456 7890 1234"
    for typed in ("0012 3456 7890 1234", "0012-3456-7890-1234", "0012\t3456\u00a07890 1234"):
        assert p.normalize_code(typed) == "0012345678901234"


def test_a_suggested_passphrase_is_six_words_of_the_list():
    assert len(p.wordlist()) == len(set(p.wordlist())) == 7776
    suggestions = {p.suggest_passphrase() for _ in range(50)}
    assert len(suggestions) == 50
    for suggestion in suggestions:
        words = suggestion.split(" ")
        assert len(words) == p.SUGGESTED_WORDS and set(words) <= set(p.wordlist())
        assert p.passphrase_problem(suggestion) is None


def test_the_same_words_typed_elsewhere_give_the_same_mailbox_secret():
    composed = "kopi tubruk di pasar lama \u00e9"
    decomposed = unicodedata.normalize("NFD", " kopi  tubruk\tdi pasar lama \u00e9\n")
    assert composed != decomposed
    assert p.normalize_passphrase(decomposed) == composed
    code = "1234567890123456"
    assert p.mailbox_secret(code, decomposed) == p.mailbox_secret(code, composed)
    assert p.mailbox_secret(code, composed) == code.encode() + composed.encode()
    assert p.mailbox_secret(code, composed) != p.mailbox_secret(code, composed.upper())


@pytest.mark.parametrize(
    ("passphrase", "minimum", "problem"),
    [
        ("pendek", p.MIN_REPORTER_PASSPHRASE, p.PassphraseProblem.TOO_SHORT),
        ("  a  b  c  d  ", p.MIN_REPORTER_PASSPHRASE, p.PassphraseProblem.TOO_SHORT),
        ("cukup panjang", p.MIN_REPORTER_PASSPHRASE, None),
        ("cukup panjang", 14, p.PassphraseProblem.TOO_SHORT),
    ],
)
def test_a_passphrase_shorter_than_the_minimum_is_a_problem(passphrase, minimum, problem):
    assert p.passphrase_problem(passphrase, minimum) is problem


def test_a_common_password_is_a_problem_whatever_its_case():
    common = next(w for w in sorted(p.common_passwords()) if len(w) >= 10 and w.isalpha())
    assert p.passphrase_problem(common) is p.PassphraseProblem.COMMON
    assert p.passphrase_problem(common.upper()) is p.PassphraseProblem.COMMON
    assert p.passphrase_problem(common + " dan kopi") is None
