"""Sealed small secrets (TOTP seeds): open only with the same key, owner and purpose."""

import pytest

from sipadu.crypto import CryptoError, new_key, open_secret, seal_secret


def test_a_sealed_secret_opens_only_in_its_own_context():
    key = new_key()
    sealed = seal_secret(key, b"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", owner="staff/a", purpose="totp")
    assert b"JBSWY3DP" not in sealed and sealed[0] == 0x01
    assert open_secret(key, sealed, owner="staff/a", purpose="totp").startswith(b"JBSWY3DP")
    for wrong in (
        dict(key=new_key(), blob=sealed, owner="staff/a", purpose="totp"),
        dict(key=key, blob=sealed, owner="staff/b", purpose="totp"),
        dict(key=key, blob=sealed, owner="staff/a", purpose="password"),
        dict(key=key, blob=sealed[:-1] + bytes([sealed[-1] ^ 1]), owner="staff/a", purpose="totp"),
        dict(key=key, blob=b"\x02" + sealed[1:], owner="staff/a", purpose="totp"),
        dict(key=key, blob=sealed[:20], owner="staff/a", purpose="totp"),
    ):
        with pytest.raises(CryptoError):
            open_secret(wrong.pop("key"), wrong.pop("blob"), **wrong)


def test_sealing_twice_gives_different_bytes():
    key = new_key()
    assert seal_secret(key, b"s", owner="o", purpose="p") != seal_secret(
        key, b"s", owner="o", purpose="p"
    )
