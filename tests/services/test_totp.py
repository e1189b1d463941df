"""One-time codes (:mod:`sipadu.services.totp`): valid for the current step and one
either side, only once (never a step not later than the last used), typed with or
without a space; two consecutive codes in order after many failures; the enrollment
QR code drawn here without the secret in the clear."""

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from sipadu.services import totp

SECRET = totp.new_secret()
NOW = datetime(2025, 3, 14, 9, 30, 10, tzinfo=UTC)
STEP = int(NOW.timestamp()) // 30


def code(step: int) -> str:
    return pyotp.TOTP(SECRET).generate_otp(step)


def test_a_secret_holds_160_bits():
    assert len(SECRET) == 32 and set(SECRET) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert totp.new_secret() != SECRET


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_a_code_of_the_current_step_or_one_either_side_is_accepted(offset):
    assert totp.matching_step(SECRET, code(STEP + offset), NOW, 0) == STEP + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_a_code_further_away_is_refused(offset):
    assert totp.matching_step(SECRET, code(STEP + offset), NOW, 0) is None


def test_a_code_counts_once_and_never_before_the_last_step_used():
    assert totp.matching_step(SECRET, code(STEP), NOW, STEP) is None
    assert totp.matching_step(SECRET, code(STEP - 1), NOW, STEP - 1) is None
    assert totp.matching_step(SECRET, code(STEP + 1), NOW, STEP) == STEP + 1


@pytest.mark.parametrize(
    "typed", ["", "12345", "1234567", "12a456", "\u0661\u0662\u0663\u0664\u0665\u0666"]
)
def test_anything_but_six_ascii_digits_is_refused(typed):
    assert totp.matching_step(SECRET, typed, NOW, 0) is None


def test_spaces_inside_a_code_are_ignored():
    current = code(STEP)
    assert totp.matching_step(SECRET, f" {current[:3]} {current[3:]} ", NOW, 0) == STEP


def test_two_consecutive_codes_are_accepted_in_order_only():
    assert totp.matching_pair(SECRET, code(STEP), code(STEP + 1), NOW, 0) == (STEP, STEP + 1)
    assert totp.matching_pair(SECRET, code(STEP - 1), code(STEP), NOW, 0) == (STEP - 1, STEP)
    assert totp.matching_pair(SECRET, code(STEP + 1), code(STEP), NOW, 0) is None
    assert totp.matching_pair(SECRET, code(STEP), code(STEP), NOW, 0) is None
    assert totp.matching_pair(SECRET, code(STEP + 1), code(STEP + 2), NOW, 0) is None
    assert totp.matching_pair(SECRET, code(STEP), code(STEP + 1), NOW, STEP) is None
    assert totp.matching_pair(SECRET, code(STEP), "x", NOW, 0) is None


def test_the_enrollment_uri_names_the_issuer_and_the_qr_code_is_drawn_here():
    uri = totp.provisioning_uri(SECRET, "budi")
    assert uri.startswith("otpauth://totp/SIPADU:budi?") and f"secret={SECRET}" in uri
    svg = totp.qr_svg(uri)
    assert svg.lstrip().startswith("<svg") and SECRET not in svg
    assert "<image" not in svg and "href" not in svg  # nothing fetched from elsewhere


def test_a_code_of_a_moment_later_than_now_plus_drift_never_matches():
    later = NOW + timedelta(minutes=5)
    assert totp.matching_step(SECRET, pyotp.TOTP(SECRET).at(later), NOW, 0) is None
