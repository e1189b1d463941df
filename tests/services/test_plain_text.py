"""Plain text admins type for others to read (:mod:`sipadu.services.plain_text`)."""

import pytest

from sipadu.services import Reason
from sipadu.services.plain_text import plain, same_words
from tests.services.helpers import refused


def test_text_is_normalised_and_collapsed():
    assert (
        plain("  \uff30\uff45\uff4e\uff47\uff41\uff44\uff41\uff41\uff4e\n\tbarang  ", 50, "f")
        == "Pengadaan barang"
    )
    assert plain("", 5, "f", required=False) == ""
    assert same_words("Dinas  Kesehatan", "dinas kesehatan")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", Reason.TEXT_REQUIRED),
        ("x" * 11, Reason.TEXT_TOO_LONG),
        ("a\u202eb", Reason.TEXT_NOT_PLAIN),
        ("a\u200bb", Reason.TEXT_NOT_PLAIN),
        ("a\x07b", Reason.TEXT_NOT_PLAIN),
    ],
)
def test_what_a_reader_cannot_see_is_refused(value, reason):
    with refused(reason, "label_id"):
        plain(value, 10, "label_id")


def test_a_recorded_name_never_looks_like_what_the_log_refuses():
    with refused(Reason.TEXT_NOT_RECORDABLE, "name"):
        plain("192.168.1.1", 50, "name", recorded=True)
    with refused(Reason.TEXT_NOT_RECORDABLE, "name"):
        plain("1234 5678 9012 3456", 50, "name", recorded=True)
    assert plain("192.168.1.1", 50, "name") == "192.168.1.1"


@pytest.mark.parametrize(
    "value", ["=cmd|' /C calc'!A0", "@SUM(1+1)", "+1", "-1", "\t=1+1", "\r\n@A1", "\uff1d1+1"]
)
def test_a_name_a_spreadsheet_would_run_as_a_formula_is_refused(value):
    """Review of issue 18: unit and category names are exported and opened in
    spreadsheets, where a leading =, +, - or @ makes a formula (CSV injection)."""
    with refused(Reason.TEXT_LIKE_FORMULA, "name"):
        plain(value, 50, "name", recorded=True)
    assert plain("Dinas A-1 + B = C @ kota", 50, "name") == "Dinas A-1 + B = C @ kota"
