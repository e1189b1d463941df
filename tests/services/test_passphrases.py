"""Report codes and passphrases (:mod:`sipadu.services.passphrases`): 16 uniform digits
shown in groups and accepted typed any way; seven-word suggestions from the Indonesian
list; the same words typed on another device open the same mailbox; too short or too
common is refused."""

import re
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


ARABIC_INDIC = "".join(chr(0x0660 + int(d)) for d in "0012345678901234")
DEVANAGARI = "".join(chr(0x0966 + int(d)) for d in "0012345678901234")
FULL_WIDTH = "".join(chr(0xFF10 + int(d)) for d in "0012345678901234")


@pytest.mark.parametrize(
    "typed",
    [
        "0012.3456.7890.1234",  # Indonesian digit grouping
        "0.012.345.678.901.234",
        "0012,3456,7890,1234",
        "0012\u202f3456\u20097890\u2007 1234",  # narrow no-break, thin, figure space
        "0012\u30003456\u00a07890\u20031234",  # ideographic, no-break, em space
        "0012\u20103456\u20137890\u20141234",  # hyphen, en dash, em dash
        "0012\u22123456\ufe637890\uff0d1234",  # minus sign, small and full-width hyphen
        "0012\r\n3456\n7890\r1234\n",  # copied from a message or a note, line by line
        "\u200e0012\u200b3456\u2060 7890\ufeff1234\u200f",  # invisible marks
        " 0012 / 3456 / 7890 / 1234 ",
        "0012\u00b73456\u00b77890\u00b71234",
        "0'012'345'678'901'234",  # Swiss digit grouping
        "(0012) 3456-7890-1234",  # as a phone formats a number
        "\u201c0012 3456 7890 1234\u201d",  # quoted by a chat app
        "[0012]\u20193456\u20197890\u2019#1234*",
        ARABIC_INDIC,
        "\u200f" + ARABIC_INDIC[:4] + "\u066c" + ARABIC_INDIC[4:],  # as an Arabic phone writes
        DEVANAGARI[:8] + " " + DEVANAGARI[8:],
        FULL_WIDTH[:4] + "\u3000" + FULL_WIDTH[4:],
        # mixed, as a person copies it from several places
        "00\uff11\uff12 \uff13\uff1456 \u0667\u0668\u0669\u0660 1234",
    ],
)
def test_a_code_written_the_way_people_and_phones_write_it_is_accepted(typed):
    from sipadu.services.mailbox import well_formed_code

    assert p.normalize_code(typed) == "0012345678901234"
    assert well_formed_code(typed) == "0012345678901234"


@pytest.mark.parametrize(
    "typed",
    [
        "0012 3456 7890 123",  # 15 digits
        "0012 3456 7890 12345",  # 17 digits
        "0012 3456 7890 123O",  # a letter O for a zero
        "0012 3456 7890 123\u00b2",  # superscript two: a digit, but not a decimal one
        "0012 3456 7890 12\u2163",  # Roman numeral four
        "0012+3456+7890+1234",
        "0012 3456 7890 1234" + " " * 100,  # longer than any code a person writes
        "1" * 16 + "\u0301",  # a combining mark
    ],
)
def test_anything_but_sixteen_decimal_digits_is_still_refused(typed):
    from sipadu.services.mailbox import well_formed_code

    assert well_formed_code(typed) is None


def test_a_suggested_passphrase_is_seven_words_of_the_list():
    assert len(p.wordlist()) == len(set(p.wordlist())) == 2048
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
        ("kopi tubruk lama", p.MIN_REPORTER_PASSPHRASE, None),
        ("kopi tubruk lama", 17, p.PassphraseProblem.TOO_SHORT),
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
        ("lmnopqrstu", p.PassphraseProblem.SEQUENCE),
        ("17/08/1945", p.PassphraseProblem.DATE),
    ],
)
def test_an_easily_guessed_passphrase_is_refused_with_the_reason(passphrase, problem):
    """Issue 15 item 7: ten characters outside the common list were enough."""
    assert p.passphrase_problem(passphrase) is problem


def test_two_hundred_suggested_passphrases_all_pass_the_staff_rule_too():
    """The suggestion stays the easy path: it passes the reporters' score and the staff
    one (4), with the Indonesian lists, and the office's own words never make it fail."""
    for _ in range(200):
        suggestion = p.suggest_passphrase()
        assert p.passphrase_problem(suggestion) is None
        assert p.passphrase_problem(suggestion, 12, min_score=4, user_inputs=("sipadu",)) is None


def test_words_of_ones_own_choosing_pass():
    for passphrase in ("kopi tubruk pasar lama", "kerupuk jendela sapi biru", "rahasiaku2024 biru"):
        assert p.passphrase_problem(passphrase) is None
        assert p.passphrase_problem(passphrase, 12, min_score=3) is None


def test_only_the_first_characters_are_estimated_and_a_long_repeat_still_fails():
    assert p.passphrase_problem("a" * 500) is p.PassphraseProblem.REPEATED
    assert p.passphrase_problem(p.suggest_passphrase() * 10) is None


# Issue 15 item 7, second review: zxcvbn knew no Indonesian, so these common Indonesian
# words and phrases, with a digit or a separator, were accepted for reporters.
WEAK_REPORTER_PASSPHRASES = [
    "terimakasih1",
    "selamat pagi",
    "Selamat Pagi!",
    "terima kasih banyak",
    "indonesiaraya45",
    "indonesia raya",
    "garuda pancasila",
    "pancasila45",
    "merdeka 1945",
    "sipadu-sipadu",
    "bandung-bandung",
    "kata sandi saya",
    "aku cinta kamu",
    "satu dua tiga empat",
    "petugas12345",
    "pemeriksa1234",
]


@pytest.mark.parametrize("passphrase", WEAK_REPORTER_PASSPHRASES)
def test_a_common_indonesian_passphrase_is_refused(passphrase):
    assert p.passphrase_problem(passphrase) is not None


def test_the_indonesian_lists_are_ranked_dictionaries_not_a_word_set():
    """A word's rank matters: a common word costs a guesser less than a rare one."""
    common = p.estimate("selamat")
    rare = p.estimate("kerupuk")
    assert [m["pattern"] for m in common.sequence] == ["dictionary"]
    assert common.guesses < rare.guesses


def test_the_instance_s_own_names_come_from_configuration():
    """SIPADU_PASSWORD_EXTRA_WORDS: the office, city and region of this instance are
    tried first, whole, word by word and joined."""
    password = "Sukamaju-Terpadu7"
    assert p.passphrase_problem(password, 12, min_score=4) is None
    try:
        p.configure_instance_words(["Dinas Pelayanan Terpadu Sukamaju"])
        assert p.passphrase_problem(password, 12, min_score=4) is p.PassphraseProblem.COMMON
    finally:
        p.configure_instance_words(())
    assert p.vocabulary(["Kota Bandung"]) == ["kota bandung", "kota", "bandung", "kotabandung"]


def test_suggested_words_can_be_copied_on_paper_without_error():
    """The word list's rules (docs/reporter.md, "Suggested passphrases"): plain a-z words
    of 4 to 8 letters with no letter people misspell, nothing excluded by hand, no two
    words one slip of the pen apart, and enough words for the documented 77 bits."""
    import math
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    try:
        import make_wordlists as rules
    finally:
        sys.path.pop(0)

    words = p.wordlist()
    assert rules.problems(words) == []
    assert all(re.fullmatch(r"[a-z]{4,8}", w) for w in words)
    assert not set(words) & set(p.INSTANCE_WORDS)
    assert p.SUGGESTED_WORDS * math.log2(len(words)) >= 77
    # the checker itself catches each kind of near miss
    assert rules.close_pairs(["rumah", "rumahx", "ramah", "ruamh", "kopi"]) == [
        ("ramah", "rumah"),
        ("ruamh", "rumah"),
        ("rumah", "rumahx"),
    ]
    assert rules.problems(["saat", "nafas", "babi", "Kopi", *words[4:]]) != []


def test_the_institution_s_name_is_among_the_instance_s_words(config, staff_app):
    """Issue 15, item 7 (review): SIPADU_INSTITUTION_NAME and _ADDRESS were never given to
    the estimator, so a staff password made of the office's own name and a year, and a
    reporter passphrase of its city and a year, were accepted. The app feeds them at
    start (as the CLI does); runs of the name's words count as one word."""
    from sipadu.services.staff import MIN_PASSWORD_LENGTH, MIN_PASSWORD_SCORE

    assert config.institution.name == "Inspektorat Provinsi DKI Jakarta (contoh)"
    try:  # staff_app: create_app gave the estimator this instance's words
        staff_password = "Inspektorat Provinsi DKI 2026"
        assert (
            p.passphrase_problem(staff_password, MIN_PASSWORD_LENGTH, min_score=MIN_PASSWORD_SCORE)
            is not None
        )
        assert p.passphrase_problem("jakarta2026") is not None
        assert p.passphrase_problem(p.suggest_passphrase()) is None  # the easy path stays open
    finally:
        p.configure_instance_words(())
    assert p.passphrase_problem("jakarta2026") is None  # without the instance's words
