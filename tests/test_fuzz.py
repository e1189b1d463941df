"""Bounded fuzzing (hypothesis), run in CI: whatever bytes reach the stream reader, the
field opener, the key unwrapper and the record parser, the only outcome besides the
right plaintext is CryptoError; whatever multipart body reaches the reporter portal, the
answer is a clear 4xx or success, never a 5xx, and nothing half-stored stays behind."""

import io
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from sipadu.crypto import (
    CryptoError,
    KeyContext,
    Purpose,
    SecretRecord,
    decrypt_stream,
    encrypting_writer,
    new_key,
    new_keypair,
    open_field,
    seal_field,
    unwrap_key,
    wrap_key,
)
from sipadu.persistence.models import Blob, Report
from tests.helpers import csrf, database

KEY = new_key()
REPORT = uuid.uuid4()
PRIVATE = new_keypair()
FUZZ = settings(max_examples=300, deadline=None)


def _stream(data: bytes) -> tuple[bytes, bytes]:
    out = io.BytesIO()

    class Sink:
        def write(self, chunk: bytes) -> None:
            out.write(chunk)

    writer = encrypting_writer(Sink(), chunk_size=256)
    writer.write(data)
    writer.close()
    return out.getvalue(), writer.key


VALID, STREAM_KEY = _stream(b"sipadu fuzz " * 100)


@FUZZ
@given(st.binary(max_size=4096))
def test_the_stream_reader_accepts_nothing_but_its_own_ciphertext(blob):
    with pytest.raises(CryptoError):
        b"".join(decrypt_stream(io.BytesIO(blob), STREAM_KEY))


@FUZZ
@given(st.integers(0, len(VALID) - 1), st.integers(1, 255), st.integers(0, len(VALID)))
def test_a_changed_or_cut_stream_never_yields_other_plaintext(position, flip, cut):
    altered = bytearray(VALID)
    altered[position] ^= flip
    for candidate in (bytes(altered), VALID[:cut] if cut < len(VALID) else VALID + b"x"):
        try:
            plaintext = b"".join(decrypt_stream(io.BytesIO(candidate), STREAM_KEY))
        except CryptoError:
            continue
        raise AssertionError(f"altered stream decrypted to {plaintext[:40]!r}")


SEALED = seal_field(KEY, b"judul laporan", report_id=REPORT, field="report/title")


@FUZZ
@given(st.binary(max_size=600))
def test_the_field_opener_refuses_any_other_bytes(blob):
    if blob == SEALED:
        return
    with pytest.raises(CryptoError):
        open_field(KEY, blob, report_id=REPORT, field="report/title")


WRAPPED = wrap_key(KEY, PRIVATE.public_key(), KeyContext(REPORT, Purpose.CASE, 0))


@FUZZ
@given(st.integers(0, len(WRAPPED) - 1), st.integers(1, 255))
def test_a_changed_wrapped_key_never_unwraps(position, flip):
    altered = bytearray(WRAPPED)
    altered[position] ^= flip
    with pytest.raises(CryptoError):
        unwrap_key(bytes(altered), PRIVATE, KeyContext(REPORT, Purpose.CASE, 0))


@FUZZ
@given(st.binary(max_size=200))
def test_unparseable_records_are_crypto_errors(blob):
    try:
        SecretRecord.from_bytes(blob)
    except CryptoError:
        return
    assert len(blob) == 58  # only a well-formed record parses


# --- the multipart path -----------------------------------------------------------------

NAMES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=40
)
PART = st.tuples(
    st.sampled_from(["attachments", "title", "what", "category", "passphrase", "x", ""]),
    st.one_of(st.none(), NAMES),  # file name (None: a plain field)
    st.sampled_from(["application/octet-stream", "image/png", "image/jpeg", "text/plain", ""]),
    st.binary(max_size=2048),
)


def multipart(token: str, parts, boundary: str, cut: int | None) -> bytes:
    body = bytearray()
    fields = [("csrf_token", None, "", token.encode()), *parts]
    for name, filename, kind, content in fields:
        body += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
            disposition += f'; filename="{quoted}"'
        body += f"Content-Disposition: {disposition}\r\n".encode("utf-8", "replace")
        if kind:
            body += f"Content-Type: {kind}\r\n".encode()
        body += b"\r\n" + content + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return bytes(body[:cut]) if cut is not None else bytes(body)


@pytest.fixture(scope="module")
def demo_instance(env):
    from click.testing import CliRunner

    from sipadu.cli import main as cli

    assert CliRunner().invoke(cli, ["init", "--demo"], env=env).exit_code == 0


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(PART, max_size=6),
    st.one_of(st.none(), st.integers(0, 3000)),
    st.sampled_from(["b0undary", "----x", "a" * 70]),
)
def test_any_multipart_body_gets_a_clear_answer_and_leaves_nothing_half_stored(
    demo_instance, reporter_app, database_url, parts, cut, boundary
):
    client = reporter_app.test_client()
    token = csrf(client, "/report")
    with database(database_url) as session:
        reports_before = session.scalar(select(func.count()).select_from(Report))
    response = client.post(
        "/report",
        data=multipart(token, parts, boundary, cut),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    body = response.get_data(as_text=True)
    assert "Traceback" not in body
    with database(database_url) as session:
        staged = session.scalar(
            select(func.count()).select_from(Blob).where(Blob.linked.is_(False))
        )
        reports_after = session.scalar(select(func.count()).select_from(Report))
    assert staged == 0  # whatever was staged and not linked is gone with the request
    stored = reports_after - reports_before
    assert stored == (1 if 'id="report-code"' in body else 0)
