"""The registry of export recipients (:mod:`sipadu.services.export_recipients`), called
directly. (Started by the review of issue 17, findings 5 to 7; HTTP-level tests are in
tests/test_export_recipients.py.)"""

import hashlib

import pyrage
import pytest

from sipadu.services import Reason
from sipadu.services.export_recipients import (
    canonical_recipient,
    checked_name,
    display_fingerprint,
    intact,
    is_private_key,
    same_name,
    stored_fingerprint,
)
from tests.services.helpers import refused

IDENTITY = pyrage.x25519.Identity.generate()
RECIPIENT = str(IDENTITY.to_public())


@pytest.mark.parametrize(
    "pasted",
    [
        str(IDENTITY),
        "  " + str(IDENTITY).lower() + "\n",
        "# created: 2026\n# public key: " + RECIPIENT + "\n" + str(IDENTITY),  # the whole file
        "AGE-PLUGIN-YUBIKEY-1QQQ",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n",
    ],
)
def test_a_private_key_is_recognised_and_refused_as_such(pasted):
    assert is_private_key(pasted)
    with refused(Reason.PRIVATE_KEY_NOT_RECIPIENT, "recipient"):
        canonical_recipient(pasted)


def test_a_public_recipient_or_a_typo_is_not_a_private_key():
    assert not is_private_key(RECIPIENT) and not is_private_key("") and not is_private_key(None)
    with refused(Reason.NOT_AN_AGE_RECIPIENT, "recipient"):
        canonical_recipient("age1typo")


@pytest.mark.parametrize(
    "name",
    ["KPK\u200b", "K\u0420K", "\u202eKPK", "\u3164", "KPK\u00ad", "K\u200dPK", "KPK\x07"],
)
def test_names_with_invisible_bidi_or_other_script_characters_are_refused(name):
    with refused(Reason.RECIPIENT_NAME_NOT_PLAIN, "name"):
        checked_name(name)


def test_plain_names_are_kept_in_nfkc_with_spaces_collapsed():
    assert checked_name("  Arsip   Inspektorat Kota (BPKP) & KPK-2/3, Jl. O'Neil ") == (
        "Arsip Inspektorat Kota (BPKP) & KPK-2/3, Jl. O'Neil"
    )
    assert checked_name("\uff2b\uff30\uff2b") == "KPK"  # full-width: NFKC makes them plain
    assert checked_name("Bagian Pengawasan Müller") == "Bagian Pengawasan Müller"
    with refused(Reason.EMPTY_TEXT, "name"):
        checked_name(" \t ")
    with refused(Reason.RECIPIENT_NAME_TOO_LONG, "name"):
        checked_name("K" * 101)


def test_names_are_the_same_after_nfkc_and_case_folding():
    assert same_name("KPK", "kpk") and same_name("Arsip  Kota", "ARSIP KOTA")
    assert same_name("\uff2b\uff50\uff4b", "KPK") and same_name("Strasse", "STRAßE")
    assert not same_name("KPK", "BPKP")


def test_a_changed_row_has_a_fingerprint_of_what_it_stores():
    assert intact(RECIPIENT) and not intact("garbage-not-age") and not intact(RECIPIENT.upper())
    assert stored_fingerprint(RECIPIENT) == hashlib.sha256(RECIPIENT.encode()).hexdigest()
    assert stored_fingerprint("garbage") == hashlib.sha256(b"garbage").hexdigest()
    assert len(display_fingerprint("garbage\udc80").split(" ")) == 16  # never raises
