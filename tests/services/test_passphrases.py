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


@pytest.mark.parametrize(
    ("passphrase", "problem"),
    [
        ("aaaaaaaaaa", p.PassphraseProblem.REPEATED),
        ("0000000000", p.PassphraseProblem.REPEATED),
        ("indonesia1", p.PassphraseProblem.COMMON),
        ("jakarta2024", p.PassphraseProblem.COMMON),
        ("lmnopqrstu", p.PassphraseProblem.SEQUENCE),
        ("17/08/1945", p.PassphraseProblem.DATE),
    ],
)
def test_an_easily_guessed_passphrase_is_refused_with_the_reason(passphrase, problem):
    """Issue 15 item 7: ten characters outside the common list were enough."""
    assert p.passphrase_problem(passphrase) is problem


def test_two_hundred_suggested_passphrases_all_pass_the_staff_rule_too():
    """The suggestion stays the easy path: it passes the reporters' score and the staff
    one (3), and the office's own words never make it fail."""
    for _ in range(200):
        suggestion = p.suggest_passphrase()
        assert p.passphrase_problem(suggestion) is None
        assert p.passphrase_problem(suggestion, 12, min_score=4, user_inputs=("sipadu",)) is None


def test_words_of_ones_own_choosing_pass():
    for passphrase in ("kopi tubruk pasar lama", "satu dua tiga empat", "rahasiaku2024 biru"):
        assert p.passphrase_problem(passphrase) is None
        assert p.passphrase_problem(passphrase, 12, min_score=3) is None


def test_only_the_first_characters_are_estimated_and_a_long_repeat_still_fails():
    assert p.passphrase_problem("a" * 500) is p.PassphraseProblem.REPEATED
    assert p.passphrase_problem(p.suggest_passphrase() * 10) is None
