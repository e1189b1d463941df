"""OpenPGP keys for the daily digest (:mod:`sipadu.services.openpgp`, issue 19): a key is
taken only if it is one public certificate that can be encrypted to now; what is
encrypted to it opens with the person's own tool (GnuPG, a key it generated), and its
size is the same for every plaintext of the same size."""

import os
import subprocess
from pathlib import Path

import pysequoia
import pytest

from sipadu.services import openpgp
from sipadu.services.refusals import Reason
from tests.services.helpers import refused


@pytest.fixture(scope="module")
def gnupg(tmp_path_factory) -> Path:
    """A GnuPG home with an encryption key and a signing-only key, made by gpg itself."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    keys = (("Pemeriksa <pemeriksa@example.go.id>", "default"), ("Tanda <t@x.id>", "sign"))
    for uid, usage in keys:
        subprocess.run(
            ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "future-default", usage],
            env=env,
            check=True,
            capture_output=True,
        )
    yield home
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False, capture_output=True)


def exported(home: Path, uid: str, *options: str) -> str:
    return subprocess.run(
        ["gpg", "--batch", "--armor", *options, uid],
        env={**os.environ, "GNUPGHOME": str(home)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def test_a_gnupg_key_is_taken_and_gnupg_opens_what_is_encrypted_to_it(gnupg):
    key = openpgp.read_public_key(exported(gnupg, "pemeriksa@example.go.id", "--export"))
    assert "BEGIN PGP PUBLIC KEY BLOCK" in key.armored and len(key.fingerprint) == 40
    message = openpgp.encrypt(key.armored, b"Laporan yang perlu tindakan Anda: 3")
    assert message.startswith(b"-----BEGIN PGP MESSAGE-----")
    opened = subprocess.run(
        ["gpg", "--batch", "--decrypt"],
        input=message,
        env={**os.environ, "GNUPGHOME": str(gnupg)},
        check=True,
        capture_output=True,
    )
    assert opened.stdout == b"Laporan yang perlu tindakan Anda: 3"


def test_the_ciphertext_size_depends_only_on_the_plaintext_size():
    key = pysequoia.Tsk.generate("Penyidik <p@example.go.id>").extract_certificate()
    armored = openpgp.read_public_key(str(key)).armored
    sizes = {len(openpgp.encrypt(armored, bytes([n % 251]) * 2048)) for n in range(20)}
    assert len(sizes) == 1
    assert len(openpgp.encrypt(armored, b"x" * 4096)) not in sizes  # it does depend on that


def test_a_secret_key_is_refused_and_nothing_of_it_kept():
    secret = str(pysequoia.Tsk.generate("Rahasia <r@example.go.id>"))
    assert "PRIVATE KEY" in secret
    with refused(Reason.OPENPGP_KEY_SECRET, "openpgp_key"):
        openpgp.read_public_key(secret)


def test_a_signing_only_key_cannot_receive_digests(gnupg):
    with refused(Reason.OPENPGP_KEY_UNUSABLE, "openpgp_key"):
        openpgp.read_public_key(exported(gnupg, "t@x.id", "--export"))


@pytest.mark.parametrize(
    "text",
    [
        "not a key at all",
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n",
        "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
    ],
)
def test_what_is_not_one_key_is_refused(text):
    with refused(Reason.OPENPGP_KEY_UNREADABLE, "openpgp_key"):
        openpgp.read_public_key(text)


def test_two_keys_at_once_are_refused():
    one = str(pysequoia.Tsk.generate("Satu <1@example.go.id>").extract_certificate())
    two = str(pysequoia.Tsk.generate("Dua <2@example.go.id>").extract_certificate())
    with refused(Reason.OPENPGP_KEY_UNREADABLE, "openpgp_key"):
        openpgp.read_public_key(one + "\n" + two)


def test_a_huge_paste_is_refused_before_it_is_parsed():
    with refused(Reason.OPENPGP_KEY_TOO_LARGE, "openpgp_key"):
        openpgp.read_public_key("A" * (openpgp.MAX_KEY_BYTES + 1))


def test_a_stored_key_that_no_longer_reads_has_no_fingerprint():
    assert openpgp.fingerprint("garbage") == ""
    with refused(Reason.OPENPGP_KEY_UNUSABLE, "openpgp_key"):
        openpgp.encrypt("garbage", b"x")
