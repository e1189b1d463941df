"""Uploads are read token first and authorized before anything is stored; image cleaning
is bounded (a host-wide pool, a pixel budget per request, a confined child); every
refusal gives the form back with the typed text, says the files must be chosen again
and why, and leaves nothing behind: no staged blob, no growth of the SQLite file."""

import io
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, event, text

from sipadu import create_app
from sipadu.cli import main as cli
from sipadu.evidence import imagecheck, imagestrip
from sipadu.settings.config import load_config
from sipadu.web.context import dispose
from tests import imagebombs
from tests.helpers import (
    config_env,
    csrf,
    end,
    fields_part,
    file_head,
    files_under,
    form_tokens,
    login,
    png_with_text,
    receipt,
    redis_contents,
    report_with_files,
    signed_in,
    submission_of,
    submit,
    unlinked_blobs,
)

MIB = 1024 * 1024
TEMPLATES = Path(__file__).resolve().parent.parent / "sipadu" / "templates"
TEXT = {"category": "kkn", "title": "Judul yang diketik", "what": "Kejadian yang diketik panjang"}
CHOOSE_AGAIN = "berkas harus dipilih lagi"


@pytest.fixture(scope="module")
def demo(people):
    """Categories, investigators to route to, an auditor."""
    return people


@contextmanager
def counting_staged(app) -> Iterator[list[str]]:
    """Every INSERT into ``blob`` (a staged upload) the app makes while the block runs."""
    engine = app.extensions["sipadu.engine"]
    seen: list[str] = []

    def watch(_conn, _cursor, statement, *_args):
        if re.match(r"\s*INSERT INTO blob\b", statement, re.I):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", watch)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", watch)


def raw_post(client, path: str, body: bytes, boundary: str):
    return client.post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}")


# --- the token first, files only once authorized --------------------------------------


def test_every_form_sends_its_token_first_and_its_files_last():
    """A body is read in the order of its form: the token must come before any file
    part (else 400, nothing stored) and the text before the files (a refused file never
    costs the typed text). Checked on every POST form of both portals."""
    forms = 0
    for template in TEMPLATES.rglob("*.html"):
        source = re.sub(r"{#.*?#}", "", template.read_text(), flags=re.S)
        for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", source, flags=re.S):
            forms += 1
            fields = re.findall(
                r"csrf_token|field\(\s*\w+\.\w+|\{\{\s*\w+\.\w+\(|<input[^>]*>|<select|<textarea",
                form,
            )
            assert fields and "csrf_token" in fields[0], (template.name, fields[:2])
            if "multipart/form-data" in form:
                assert re.search(r'type="file"|checkpoints|attachments', fields[-1]), (
                    template.name,
                    fields[-1],
                )
    assert forms >= 25


def test_a_file_part_before_the_token_is_refused_and_nothing_is_staged(demo, reporter_app):
    client = reporter_app.test_client()
    token = csrf(client, "/report")
    boundary = "----first"
    body = (
        fields_part(boundary, TEXT)
        + file_head(boundary, "bukti.pdf", "application/pdf")
        + b"%PDF" * (2 * MIB)  # over one write batch (4 MiB): main staged it
        + b"\r\n"
        + fields_part(boundary, {"csrf_token": token})
        + end(boundary)
    )
    with counting_staged(reporter_app) as staged:
        response = raw_post(client, "/report", body, boundary)
    assert response.status_code == 400
    assert staged == []


def test_long_field_names_are_refused_at_once_and_count_against_the_text(demo, reporter_app):
    """No form of ours has a long field name; 900 parts with 400 KB names cost a worker
    347 MiB and a minute of CPU (review of issue 13) because only values were counted.
    Now the first long name is a 400 that ends the reading, token or not, and names
    count against the request's text budget."""
    client = reporter_app.test_client()
    token = csrf(client, "/report")
    boundary = "----names"
    long_names = b"".join(fields_part(boundary, {f"n{i}" + "x" * 300_000: ""}) for i in range(4))
    body = fields_part(boundary, {"csrf_token": token, **TEXT}) + long_names + end(boundary)
    response = raw_post(client, "/report", body, boundary)
    assert response.status_code == 400
    assert 'name="title"' not in response.get_data(as_text=True)  # no form page: refused
    many = b"".join(fields_part(boundary, {f"k{i}" + "y" * 90: ""}) for i in range(12_000))
    response = raw_post(
        client, "/report", fields_part(boundary, TEXT) + many + end(boundary), boundary
    )
    assert response.status_code in (400, 413)  # too many parts, or names over budget


def test_files_are_not_read_for_a_route_or_a_person_that_takes_none(demo, reporter_app):
    """A file part to a form without files is refused; files for a mailbox nobody is
    signed in to are never stored (today's main staged both before refusing)."""
    client = reporter_app.test_client()
    boundary = "----route"
    token = csrf(client, "/mailbox/login")
    body = (
        fields_part(boundary, {"csrf_token": token, "code": "1" * 16, "passphrase": "x" * 12})
        + file_head(boundary, "x.bin")
        + b"x" * (5 * MIB)
        + b"\r\n"
        + end(boundary)
    )
    with counting_staged(reporter_app) as staged:
        assert raw_post(client, "/mailbox/login", body, boundary).status_code == 400
        token = csrf(client, "/report")  # a valid token, but no mailbox session
        body = (
            fields_part(boundary, {"csrf_token": token, "body": "Pesan"})
            + file_head(boundary, "x.bin")
            + b"x" * (5 * MIB)
            + b"\r\n"
            + end(boundary)
        )
        response = raw_post(client, "/mailbox/messages", body, boundary)
        assert response.status_code == 303 and response.headers["Location"].endswith("/login")
    assert staged == []


def test_a_form_sent_back_for_its_text_stores_no_file_and_says_to_choose_them_again(
    demo, reporter_app, database_url
):
    client = reporter_app.test_client()
    with counting_staged(reporter_app) as staged:
        response = report_with_files(
            client, [("bukti.pdf", b"%PDF-1.4" * MIB, "application/pdf")], title=""
        )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert staged == []
    assert "Lihat lampiran" in page and "Pilih berkas Anda lagi" in page
    assert unlinked_blobs(database_url) == 0


# --- every refusal keeps the text ------------------------------------------------------


def test_a_nameless_file_part_with_bytes_keeps_the_text(demo, reporter_app, database_url):
    client = reporter_app.test_client()
    token = csrf(client, "/report")
    boundary = "----nameless"
    body = (
        fields_part(boundary, {"csrf_token": token, **TEXT})
        + file_head(boundary, "")
        + b"\x00" * 100_000
        + b"\r\n"
        + end(boundary)
    )
    response = raw_post(client, "/report", body, boundary)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert TEXT["title"] in page and TEXT["what"] in page and CHOOSE_AGAIN in page
    assert unlinked_blobs(database_url) == 0


@pytest.fixture
def small_limits_app(demo, env):
    app = create_app(
        "reporter",
        load_config(
            {
                **env,
                "SIPADU_MAX_REQUEST_MIB": "1",
                "SIPADU_MAX_FILE_MIB": "1",
                "SIPADU_MAX_FILES": "2",
            }
        ),
    )
    app.config["TESTING"] = True
    yield app
    dispose(app)


def test_a_request_over_the_size_limit_keeps_the_text(small_limits_app, database_url):
    client = small_limits_app.test_client()
    token = csrf(client, "/report?lang=en")
    response = client.post(
        "/report?lang=en",
        data={
            "csrf_token": token,
            **TEXT,
            "attachments": [
                (io.BytesIO(b"a" * 700_000), "a.bin", "x/y"),
                (io.BytesIO(b"b" * 700_000), "b.bin", "x/y"),
            ],
        },
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "files together are larger than 1 MB" in page
    assert TEXT["title"] in page and "the files must be chosen again" in page
    # Review: it named only the file it had read ("Choose these files again: a.bin."),
    # though every file must be chosen again; the others were never read.
    assert "Choose these files again" not in page
    assert unlinked_blobs(database_url) == 0


def test_a_refused_mailbox_message_keeps_its_text(small_limits_app, database_url):
    client = small_limits_app.test_client()
    code, passphrase = receipt(report_with_files(client, []))
    assert login(client, code, passphrase).status_code == 303
    response = client.post(
        "/mailbox/messages",
        data={
            **form_tokens(client, "/mailbox"),
            "body": "Pesan panjang yang diketik pelapor",
            "attachments": [(io.BytesIO(b"x"), f"{n}.txt", "text/plain") for n in range(3)],
        },
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "Pesan panjang yang diketik pelapor" in page and CHOOSE_AGAIN in page
    assert unlinked_blobs(database_url) == 0


# --- image cleaning is bounded ----------------------------------------------------------


def solid_png(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 30)).save(out, "PNG")
    return out.getvalue()


def test_too_many_pixels_in_one_request_are_refused_from_the_headers_keeping_the_text(
    demo, reporter_app, database_url
):
    """20 solid 7000 x 7000 PNGs (156 KiB each, each under the 50-megapixel cap): main
    cleaned them all (about a minute, half a GiB per child). The budget (150
    megapixels) allows three; the fourth is refused from its header, not decoded."""
    png = solid_png(7000, 7000)
    assert len(png) < 200 * 1024
    client = reporter_app.test_client()
    with counting_staged(reporter_app) as staged:
        response = report_with_files(
            client, [(f"foto-{i}.png", png, "image/png") for i in range(20)], who="tetap ada"
        )
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "terlalu besar untuk dibersihkan" in page and "tetap ada" in page
    assert CHOOSE_AGAIN in page and 'id="report-code"' not in page
    # Every picture is staged as it arrives (20), then cleaned in turn: three clean
    # copies; the fourth is refused by its child from its header, before any decoding.
    assert len(staged) == 20 + 3
    assert unlinked_blobs(database_url) == 0


def docx_of_xml(megabytes: int) -> bytes:
    """A DOCX (about 1.5 KB per MB) whose document.xml holds ``megabytes`` MB of empty
    paragraphs: mat2 takes some 0.3 CPU seconds per MB to clean it."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(b"<w:document><w:body>")
            for _ in range(megabytes * 10):
                member.write(b"<w:p/>" * 16_666)
            member.write(b"</w:body></w:document>")
    return out.getvalue()


@pytest.fixture
def cheap_documents_app(demo, env):
    """Document children of 1 CPU second each, 2 seconds of document cleaning a request."""
    app = create_app(
        "reporter",
        load_config(
            {
                **env,
                "SIPADU_DOCUMENT_CLEANER_CPU_SECONDS": "1",
                "SIPADU_DOCUMENT_SECONDS_PER_REQUEST": "2",
            }
        ),
    )
    app.config["TESTING"] = True
    yield app
    dispose(app)


def test_documents_past_the_requests_cleaning_time_are_refused_keeping_the_text(
    cheap_documents_app, database_url
):
    """Main gave every document of a request its child's whole limit: 20 costly DOCX
    cost 20 children's worth. Each child is charged to the request's budget; once it is
    spent the request is refused (413) with the pixel budget's kind of page, naming the
    file, keeping the text."""
    bomb = docx_of_xml(60)
    assert len(bomb) < 200 * 1024
    started = time.monotonic()
    response = report_with_files(
        cheap_documents_app.test_client(),
        [(f"dokumen-{i}.docx", bomb, "application/octet-stream") for i in range(6)],
        who="tetap ada",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "terlalu lama untuk dibersihkan" in page and "dokumen-" in page
    assert "tetap ada" in page and CHOOSE_AGAIN in page and 'id="report-code"' not in page
    assert time.monotonic() - started < 15  # two children's worth and the rest, not six
    assert unlinked_blobs(database_url) == 0


@pytest.fixture
def one_cleaner_app(demo, env):
    app = create_app("reporter", load_config({**env, "SIPADU_IMAGE_CLEANERS": "1"}))
    app.config["TESTING"] = True
    yield app
    dispose(app)


def test_a_full_cleaning_pool_answers_503_at_once_keeping_the_text(one_cleaner_app, database_url):
    """Every cleaning slot of the host taken and every place in its queue: a picture is
    not cleaned (or waited for); the form comes back at once with 503 and Retry-After."""
    pool = one_cleaner_app.extensions["sipadu.image-cleaning"].pool
    release = threading.Event()

    def hold() -> None:
        with pool.slot(120):
            release.wait(120)

    holders = [threading.Thread(target=hold) for _ in range(1 + pool.waiting)]
    for holder in holders:
        holder.start()
        time.sleep(0.05)
    try:
        while pool.in_use() < 1:
            time.sleep(0.01)
        started = time.monotonic()
        response = report_with_files(
            one_cleaner_app.test_client(),
            [("foto.png", png_with_text("x"), "image/png")],
            who="tetap ada",
        )
        waited = time.monotonic() - started
    finally:
        release.set()
        for holder in holders:
            holder.join()
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert "sibuk" in page and "tetap ada" in page and CHOOSE_AGAIN in page
    assert waited < 10  # not the 20-second wait for a slot: the queue was full
    assert unlinked_blobs(database_url) == 0


def test_the_cleaning_child_is_confined_and_refuses_what_it_cannot_afford():
    confine = (
        "import os, resource; from sipadu.evidence.confinement import Confinement, confine; "
        "confine(Confinement(300 * 2**20, 7)); "
        "print(*[n for r in ('AS', 'CPU', 'FSIZE', 'CORE') "
        "for n in resource.getrlimit(getattr(resource, 'RLIMIT_' + r))], os.nice(0))"
    )
    limits = subprocess.run(
        [sys.executable, "-c", confine], capture_output=True, text=True, check=True
    ).stdout.split()
    mib300 = str(300 * 2**20)
    assert limits == [mib300, mib300, "7", "7", "0", "0", "0", "0", str(os.nice(0) + 10)]
    png = solid_png(7000, 7000)  # 49 megapixels: about 420 MiB to clean
    sink: list[bytes] = []
    with pytest.raises(imagestrip.TooLarge):  # told from the header, not a failed decode
        imagestrip.clean(
            [png], 50_000_000, 10**9, imagestrip.Confinement(256 * 2**20, 20), sink.append
        )
    with pytest.raises(imagestrip.OverBudget):
        imagestrip.clean(
            [png], 50_000_000, 48_999_999, imagestrip.Confinement(768 * 2**20, 20), sink.append
        )
    assert sink == []


@pytest.mark.parametrize(
    "name, content",
    [
        ("scans.jpg", lambda: imagebombs.scan_bomb(1024, 1024, imagecheck.MAX_JPEG_SCANS + 1)),
        ("markers.jpg", lambda: imagebombs.jpeg_marker_flood(imagecheck.MAX_JPEG_MARKERS)),
        ("chunks.png", lambda: imagebombs.png_chunk_flood(imagecheck.MAX_PNG_CHUNKS)),
    ],
    ids=["progressive-jpeg-scans", "jpeg-markers", "png-chunks"],
)
def test_pictures_built_to_cost_cpu_are_kept_as_sent_without_decoding(
    demo, reporter_app, database_url, name, content
):
    """Main decoded them, at a CPU cost out of proportion to their pixels (measured:
    a 308 KiB progressive JPEG of 4 megapixels took 20 s; 20 MiB of empty JPEG comments
    9 s; of empty PNG chunks 12 s). Here each is just past its limit, so cheap either
    way: its structure is refused before any decoder sees it, and the file is kept as
    sent (unreadable, issue 21: no longer a refused form)."""
    picture = content()
    client = reporter_app.test_client()
    before = os.times()
    with counting_staged(reporter_app) as staged:
        response = report_with_files(
            client, [(name, picture, "image/jpeg")], who="tetap ada", send_anyway="1"
        )
    after = os.times()
    assert response.status_code == 200 and 'id="report-code"' in response.get_data(as_text=True)
    spent = after.children_user + after.children_system
    assert spent - before.children_user - before.children_system < 2  # no decoding
    assert len(staged) == 1 and unlinked_blobs(database_url) == 0  # no clean copy


def test_real_pictures_are_within_the_structure_limits():
    """The limits are far above what encoders write: libjpeg's progressive JPEGs, a
    JPEG with many markers a camera might write (an ICC profile in 255 pieces), a PNG of
    many IDAT chunks."""
    progressive = imagebombs.progressive_jpeg(640, 480)
    assert 1 < len(imagebombs.jpeg_scans(progressive)) <= 10
    for picture in (
        progressive,
        imagebombs.scan_bomb(640, 480, imagecheck.MAX_JPEG_SCANS),
        imagebombs.jpeg_marker_flood(255 + 40),
        imagebombs.png_chunk_flood(2600),
    ):
        imagecheck.check(picture, imagecheck.kind(picture))


def test_the_cpu_limit_ends_any_cleaning_child():
    """Whatever the checks miss, the child's CPU limit ends it: a scan bomb within the
    scan limit, cleaned with a limit of one second of CPU. (Its decoding alone takes
    1.8 s of CPU here; a 6000 x 6000 one, 0.8 s, was cleaned within the second when the
    encoding was quick.)"""
    bomb = imagebombs.scan_bomb(9000, 9000, imagecheck.MAX_JPEG_SCANS)
    before = os.times()
    with pytest.raises(imagestrip.NotCleanable):
        imagestrip.clean([bomb], 10**9, 10**9, imagestrip.Confinement(1536 * MIB, 1), print)
    after = os.times()
    assert (
        after.children_user + after.children_system - before.children_user - before.children_system
        < 3
    )


def solid_picture(kind: str, width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    options = {"lossless": True} if kind == "WEBP" else {}
    Image.new("RGB", (width, height), (10, 120, 30)).save(out, kind, **options)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "WEBP"])
def test_the_largest_picture_of_every_format_is_cleaned_within_the_default_limits(kind):
    """Main refused a real 49-megapixel WebP (within the pixel limit) for lack of memory:
    decoding a WebP takes about 16.5 bytes per pixel, more than the 768 MiB address space
    it had. The child's memory and the pixels it takes are now one model
    (imagestrip.BYTES_PER_PIXEL), and the default memory fits the largest picture of
    every format."""
    config = load_config({})
    confinement = imagestrip.Confinement(
        config.image_cleaner_memory_bytes, config.image_cleaner_cpu_seconds
    )
    from sipadu.web.uploads import MAX_PIXELS

    largest = imagestrip.largest_pixels(kind, confinement.memory_bytes, MAX_PIXELS)
    assert largest == MAX_PIXELS
    picture = solid_picture(kind, 7000, 7000)  # 49 megapixels
    cleaned = bytearray()
    assert (
        imagestrip.clean([picture], MAX_PIXELS, MAX_PIXELS, confinement, cleaned.extend).pixels
        == 49 * 10**6
    )
    assert cleaned[:4] == picture[:4]


def test_a_picture_too_large_for_the_child_is_kept_as_sent_from_its_header(demo, env, database_url):
    """An operator who lowers the child's memory gets pictures too large for it told
    from their header (not a failed decode) and kept as sent (issue 21: main refused
    the form with "too many pixels")."""
    app = create_app("reporter", load_config({**env, "SIPADU_IMAGE_CLEANER_MEMORY_MIB": "256"}))
    app.config["TESTING"] = True
    picture = solid_picture("WEBP", 4000, 3000)
    try:
        with counting_staged(app) as staged:
            response = report_with_files(
                app.test_client(),
                [("besar.webp", picture, "image/webp")],
                who="tetap ada",
                send_anyway="1",
            )
    finally:
        dispose(app)
    assert response.status_code == 200 and 'id="report-code"' in response.get_data(as_text=True)
    assert len(staged) == 1 and unlinked_blobs(database_url) == 0  # the original only


# --- the staff portal ---------------------------------------------------------------------


def test_an_auditors_oversized_checkpoint_is_refused_in_memory(staff_app, people, monkeypatch):
    import tempfile

    def refuse(*_args, **_kwargs):
        raise AssertionError("a temporary file was created")

    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    auditor = signed_in(staff_app, people["auditor"])
    response = auditor.post(
        "/audit/verify",
        data={
            "csrf_token": csrf(auditor, "/audit/verify"),
            "checkpoints": [(io.BytesIO(b"{" * (3 * 1024 * 1024)), "besar.json")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "Hanya berkas titik periksa" in response.get_data(as_text=True)


# --- refused uploads do not grow the database -------------------------------------------------


@pytest.fixture
def sqlite_instance(tmp_path, redis_url) -> Iterator[tuple[object, Path]]:
    """A reporter portal on a SQLite database of its own, whatever the run's database:
    the file's size is what is checked."""
    db = tmp_path / "own.db"
    env = config_env(tmp_path / "instance", f"sqlite:///{db}", redis_url, SIPADU_MAX_FILE_MIB="16")
    assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0
    app = create_app("reporter", load_config(env))
    app.config["TESTING"] = True
    yield app, db
    dispose(app)


def file_size(db: Path) -> int:
    """The database file's size once its write-ahead log is folded in (as a backup or a
    restart would): the log itself is bounded by ``journal_size_limit``."""
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db.stat().st_size


def test_refused_uploads_leave_the_sqlite_file_as_it_was(sqlite_instance):
    """Today's main staged refused uploads and left their pages free inside the file
    (303 MiB of a 334 MiB test database). Unauthorized uploads are not staged at all;
    an authorized one refused halfway is discarded and its space given back."""
    app, db = sqlite_instance
    client = app.test_client()
    receipt(report_with_files(client, [("kecil.txt", b"x", "text/plain")]))
    before = file_size(db)
    boundary = "----grow"
    under_limit, big = b"\x5a" * (12 * MIB), b"\x5a" * (20 * MIB)
    for _ in range(3):  # no token: refused at the first file part (main staged it first)
        body = fields_part(boundary, TEXT) + file_head(boundary, "a.bin") + under_limit + b"\r\n"
        assert raw_post(client, "/report", body + end(boundary), boundary).status_code == 400
    for _ in range(2):  # a token, and a file over the 16 MiB limit: staged, then discarded
        response = report_with_files(client, [("besar.bin", big, "application/octet-stream")])
        assert response.status_code == 413
    receipt(report_with_files(client, [("kecil.txt", b"y", "text/plain")]))
    grown = (file_size(db) - before) / 2**20
    assert grown < 4, f"the database grew by {grown:.1f} MiB"  # main: by the largest one (12 MiB)


def test_a_refused_upload_leaves_no_write_ahead_log_behind(sqlite_instance):
    """Main zeroed a refused upload's pages (writing them into the log a second time) and
    left the log at its largest size: four refused 460 MiB uploads at once peaked at
    3.8 GiB of database and log on disk, the log still 468 MiB afterwards
    (benchmarks/upload_disk.py). The discard now folds the log in and truncates it."""
    app, db = sqlite_instance
    wal = db.with_name(db.name + "-wal")
    client = app.test_client()
    receipt(report_with_files(client, [("kecil.txt", b"x", "text/plain")]))
    response = report_with_files(
        client, [("besar.bin", b"\x5a" * (20 * MIB), "application/octet-stream")]
    )
    assert response.status_code == 413
    assert wal.stat().st_size < MIB, f"the log holds {wal.stat().st_size / MIB:.1f} MiB"


@pytest.fixture
def postgres_instance(tmp_path, fresh_postgres) -> Iterator[tuple[object, str]]:
    """A reporter portal on a PostgreSQL database of its own (in both halves of the suite:
    PostgreSQL runs on every developer and CI machine)."""
    env = config_env(tmp_path / "instance", fresh_postgres, None, SIPADU_MAX_FILE_MIB="16")
    assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0
    app = create_app("reporter", load_config(env))
    app.config["TESTING"] = True
    yield app, fresh_postgres
    dispose(app)


def test_refused_uploads_give_their_space_back_on_postgresql(postgres_instance):
    """PostgreSQL keeps a deleted row's space until a vacuum marks it reusable, and
    autovacuum waits for a fifth of the table to be dead: five refused 20 MiB uploads in
    a row grew the chunk table by 63 MiB. The discard now vacuums the chunk table, so
    each refused upload's space is reused by the next and the table grows by about one."""
    app, url = postgres_instance
    client = app.test_client()
    receipt(report_with_files(client, [("kecil.txt", b"x", "text/plain")]))
    engine = create_engine(url)

    def chunk_table_mib() -> float:
        with engine.connect() as connection:
            size = connection.execute(text("SELECT pg_total_relation_size('blob_chunk')"))
            return size.scalar_one() / MIB

    before = chunk_table_mib()
    for _ in range(5):  # a token, and a file over the 16 MiB limit: staged, then discarded
        response = report_with_files(
            client, [("besar.bin", b"\x5a" * (20 * MIB), "application/octet-stream")]
        )
        assert response.status_code == 413
    receipt(report_with_files(client, [("kecil.txt", b"y", "text/plain")]))
    grown = chunk_table_mib() - before
    engine.dispose()
    assert grown < 30, f"the chunk table grew by {grown:.0f} MiB"  # main: by 63 MiB


# --- nothing typed is lost to an ended session or a refused token (issue 16) ----------

REPLY = "Balasan panjang yang saya tulis selama enam belas menit, baris demi baris."


@pytest.fixture
def short_idle_app(demo, env):
    """Mailbox sessions that end after 2 idle seconds (the default is 15 minutes)."""
    app = create_app("reporter", replace(load_config(env), mailbox_idle_seconds=2))
    app.config["TESTING"] = True
    yield app
    dispose(app)


class SlowBody(io.BytesIO):
    """A request body that arrives over ``seconds`` (a slow Tor circuit)."""

    def __init__(self, body: bytes, seconds: float, pieces: int = 20) -> None:
        super().__init__(body)
        self._pause = seconds / pieces
        self._piece = max(1, len(body) // pieces)

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(self._piece if size is None or size < 0 else min(size, self._piece))
        if data:
            time.sleep(self._pause)
        return data

    def read1(self, size: int | None = -1) -> bytes:
        return self.read(size)

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def message_body(
    boundary: str, tokens: dict[str, str], text: str, files: list[tuple[str, bytes]]
) -> bytes:
    """A reply form's body: ``tokens`` (the form's csrf and submission tokens, as
    :func:`tests.helpers.form_tokens` reads them), the text, then the files."""
    body = fields_part(boundary, {**tokens, "body": text})
    for name, content in files:
        body += file_head(boundary, name) + content + b"\r\n"
    return body + end(boundary)


def test_an_upload_longer_than_the_idle_limit_does_not_end_the_session(short_idle_app):
    """A follow-up file that took longer to arrive than the idle limit (45 MB at
    50 KiB/s is 15 minutes): main stored it, then sent the reporter to sign in, since
    the session had been idle for the whole upload. The idle clock stops while a
    request is in flight: the mailbox shows the message and its file."""
    client = short_idle_app.test_client()
    code, passphrase = receipt(report_with_files(client, []))
    assert login(client, code, passphrase).status_code == 303
    boundary = "----slow"
    tokens = form_tokens(client, "/mailbox")
    body = message_body(boundary, tokens, "Bukti susulan", [("rekaman.bin", os.urandom(MIB))])
    started = time.monotonic()
    response = client.post(
        "/mailbox/messages",
        input_stream=SlowBody(body, seconds=5),
        content_length=len(body),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert time.monotonic() - started > 4  # more than twice the idle limit
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert "rekaman.bin" in response.get_data(as_text=True)  # its notice: kept as sent
    page = client.get("/mailbox")
    assert page.status_code == 200  # still signed in
    assert "Bukti susulan" in page.get_data(as_text=True)
    assert "rekaman.bin" in page.get_data(as_text=True)


def test_a_reply_after_the_session_ended_waits_in_the_sign_in_form(
    short_idle_app, config, redis_url
):
    """Main sent a reply that arrived after the idle limit to the sign-in page, the
    reply gone. Now the sign-in page holds it (in the page only: not in the database,
    not in the session store), says why and that files must be chosen again; after
    signing in it waits in the reply box, and one press sends it."""
    client = short_idle_app.test_client()
    code, passphrase = receipt(report_with_files(client, []))
    assert login(client, code, passphrase).status_code == 303
    tokens = form_tokens(client, "/mailbox?lang=en")
    time.sleep(2.5)  # the reporter writes for longer than the idle limit
    boundary = "----late"
    body = message_body(boundary, tokens, REPLY + "\r\nBaris kedua.", [("foto.bin", b"x" * 1000)])
    response = raw_post(client, "/mailbox/messages?lang=en", body, boundary)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:300]
    assert 'name="reply"' in page and REPLY in page and 'name="code"' in page
    assert "closed itself after" in page and "choose them again" in page
    assert REPLY.encode() not in b"".join(files_under(config.volatile_path))
    assert not [v for v in redis_contents(redis_url) if REPLY.encode() in v]
    # The reply keeps the submission token it was sent with: sent at most once.
    assert submission_of(page) == {"submission_token": tokens["submission_token"]}

    form = {"csrf_token": csrf(client, "/mailbox/login"), "code": code, "passphrase": passphrase}
    form |= submission_of(page)
    response = client.post("/mailbox/login?lang=en", data={**form, "reply": REPLY})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="kept-reply"' in page and f"{REPLY}</textarea>" in page
    assert submission_of(page) == {"submission_token": tokens["submission_token"]}
    sent = {"csrf_token": TOKEN_RE.search(page).group(1), **submission_of(page), "body": REPLY}
    response = client.post("/mailbox/messages", data=sent, content_type="multipart/form-data")
    assert response.status_code == 303
    assert REPLY in client.get("/mailbox").get_data(as_text=True)
    # Sent again (Back and resend), the same reply is not sent a second time.
    response = client.post("/mailbox/messages", data=sent, content_type="multipart/form-data")
    assert response.status_code == 303 and "sent=again" in response.headers["Location"]
    assert client.get("/mailbox").get_data(as_text=True).count(REPLY) == 1


def test_a_sent_reply_resent_after_the_session_ended_is_not_kept_to_send_twice(
    short_idle_app,
):
    """A reply that was sent, then sent again (Back and resend) after the session ended:
    the sign-in page says it was sent already, and holds no copy to be sent twice."""
    client = short_idle_app.test_client()
    code, passphrase = receipt(report_with_files(client, []))
    assert login(client, code, passphrase).status_code == 303
    tokens = form_tokens(client, "/mailbox?lang=en")
    sent = {**tokens, "body": REPLY}
    response = client.post("/mailbox/messages", data=sent, content_type="multipart/form-data")
    assert response.status_code == 303
    time.sleep(2.5)
    response = client.post(
        "/mailbox/messages?lang=en", data=sent, content_type="multipart/form-data"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "already sent before your mailbox closed itself" in page
    assert 'name="reply"' not in page and REPLY not in page
    # A kept reply whose token is used by the time the reporter signs in: not sent twice.
    form = {"csrf_token": csrf(client, "/mailbox/login"), "code": code, "passphrase": passphrase}
    response = client.post("/mailbox/login", data={**form, **tokens, "reply": REPLY})
    assert response.status_code == 303 and "sent=again" in response.headers["Location"]
    assert client.get("/mailbox").get_data(as_text=True).count(REPLY) == 1


def test_a_sent_kept_reply_is_not_offered_again_after_back_and_resend(short_idle_app):
    """Issue 16 review: a kept reply sent after signing in, then Back and resend of that
    sign-in (its form token refused now): the refused sign-in page offered the reply again
    with a fresh submission token, and signing in and sending made two copies."""
    client = short_idle_app.test_client()
    code, passphrase = receipt(report_with_files(client, []))
    assert login(client, code, passphrase).status_code == 303
    tokens = form_tokens(client, "/mailbox")
    time.sleep(2.5)
    page = client.post(
        "/mailbox/messages", data={**tokens, "body": REPLY}, content_type="multipart/form-data"
    ).get_data(as_text=True)
    signin = {"csrf_token": TOKEN_RE.search(page).group(1), **submission_of(page)}
    signin |= {"code": code, "passphrase": passphrase, "reply": REPLY}
    page = client.post("/mailbox/login", data=signin).get_data(as_text=True)
    sent = {"csrf_token": TOKEN_RE.search(page).group(1), **submission_of(page), "body": REPLY}
    response = client.post("/mailbox/messages", data=sent, content_type="multipart/form-data")
    assert response.status_code == 303
    # Back to the sign-in and resend it: its form token is refused now.
    again = client.post("/mailbox/login", data=signin)
    page = again.get_data(as_text=True)
    assert again.status_code == 400
    assert REPLY not in page and "tidak dikirim untuk kedua kalinya" in page
    assert client.get("/mailbox").get_data(as_text=True).count(REPLY) == 1


def test_the_sign_in_page_holding_a_reply_switches_language_keeping_it(short_idle_app):
    """The sign-in page holding a kept reply is the reply's only copy: its language
    switch posts it back (like the reply form's), Enter still signs in."""
    client = short_idle_app.test_client()
    code, passphrase = receipt(report_with_files(client, []))
    assert login(client, code, passphrase).status_code == 303
    tokens = form_tokens(client, "/mailbox")
    time.sleep(2.5)
    page = client.post(
        "/mailbox/messages", data={**tokens, "body": REPLY}, content_type="multipart/form-data"
    ).get_data(as_text=True)
    assert 'href="?lang=en"' not in page and 'name="switch_language"' in page
    assert page.index('class="implicit-submit"') < page.index('name="switch_language"')
    form = {"csrf_token": TOKEN_RE.search(page).group(1), **submission_of(page)}
    switched = client.post(
        "/mailbox/login?lang=en",
        data={**form, "code": code, "passphrase": "", "reply": REPLY, "switch_language": "en"},
    )
    page = switched.get_data(as_text=True)
    assert switched.status_code == 200 and 'lang="en"' in page
    assert f"{REPLY}</textarea>" in page and code in page
    assert "The language is changed" in page
    assert submission_of(page) == {"submission_token": tokens["submission_token"]}


def test_a_request_without_any_session_is_still_sent_to_sign_in_unread(short_idle_app):
    client = short_idle_app.test_client()
    tokens = form_tokens(client, "/report")
    response = raw_post(client, "/mailbox/messages", message_body("b", tokens, REPLY, []), "b")
    assert response.status_code == 303 and REPLY not in response.get_data(as_text=True)


def test_the_mailbox_states_its_idle_limit_and_the_forms_their_file_limits(small_limits_app):
    client = small_limits_app.test_client()
    page = client.get("/report?lang=en").get_data(as_text=True)
    assert "At most 2 files, each up to 1 MB and all together up to 1 MB." in page
    code, passphrase = receipt(report_with_files(client, []))
    login(client, code, passphrase)
    page = client.get("/mailbox?lang=en").get_data(as_text=True)
    limit = page.index('id="idle-limit"')
    assert "closes itself after 15 minutes" in page[limit:]
    assert limit < page.index('name="body"')  # above the reply box
    assert "At most 2 files" in page
    assert "Paling banyak 2 berkas" in client.get("/mailbox").get_data(as_text=True)


TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TYPED = {
    "category": "abuse_of_authority",
    "title": "Judul yang tidak boleh hilang",
    "what": "Apa yang terjadi, ditulis lama",
    "who": "Kepala bagian",
    "identity": "Siti 0812",
    "passphrase": "kata sandi panjang saya sendiri",
    "passphrase_confirm": "kata sandi panjang saya sendiri",
}


def test_a_report_whose_token_went_stale_in_another_tab_comes_back_whole(demo, reporter_app):
    """The report form was open while the reporter signed in to the mailbox in another
    tab (which starts a new session): main answered with a page that blamed a form
    "open for a long time" and kept nothing. Now the form comes back with every field,
    a fresh token, and the real cause."""
    client = reporter_app.test_client()
    code, passphrase, _ = submit(reporter_app.test_client())
    tokens = form_tokens(client, "/report")
    stale = tokens["csrf_token"]
    assert login(client, code, passphrase).status_code == 303  # the other tab
    boundary = "----stale"
    body = (
        fields_part(boundary, {**tokens, **TYPED})
        + file_head(boundary, "bukti-penting.pdf")
        + b"%PDF" * 1000
        + b"\r\n"
        + end(boundary)
    )
    with counting_staged(reporter_app) as staged:
        response = raw_post(client, "/report?lang=en", body, boundary)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert staged == []
    for value in TYPED.values():
        assert value in page, value
    assert re.search(
        r'checked[^>]*value="abuse_of_authority"|value="abuse_of_authority"[^>]*checked', page
    )
    assert "before you signed in to your mailbox" in page and "a long time" not in page
    assert "choose them again" in page
    fresh = TOKEN_RE.search(page).group(1)
    assert fresh != stale
    # Not sent yet: the form keeps its submission token (one report for this form).
    assert submission_of(page) == {"submission_token": tokens["submission_token"]}
    data = {"csrf_token": fresh, **submission_of(page), **TYPED}
    sent = client.post("/report", data=data, content_type="multipart/form-data")
    assert sent.status_code == 200
    new_code = re.search(r'id="report-code">([^<]+)<', sent.get_data(as_text=True)).group(1)
    # The stale form sent once more (Back and resend): its report exists, the code shown
    # again, and no form offered to send it a second time.
    with counting_staged(reporter_app) as staged:
        again = raw_post(client, "/report?lang=en", body, boundary).get_data(as_text=True)
    assert 'id="already-received"' in again and new_code in again
    assert TYPED["what"] not in again and staged == []


def test_a_form_whose_cookie_is_gone_comes_back_whole_and_says_so(demo, reporter_app):
    """The browser was closed and opened again (or Tor Browser's "New Identity"): the
    session cookie is gone. The form comes back, and says that."""
    stale = csrf(reporter_app.test_client(), "/report")
    client = reporter_app.test_client()  # no cookie
    response = client.post(
        "/report?lang=en",
        data={"csrf_token": stale, **TYPED},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert TYPED["what"] in page and "no longer has the session" in page
    # A post from another site is never filled in for a visitor to send.
    response = client.post(
        "/report",
        data={"csrf_token": stale, **TYPED},
        content_type="multipart/form-data",
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 400 and TYPED["what"] not in response.get_data(as_text=True)


def test_a_reply_whose_token_went_stale_comes_back_in_the_reply_box(demo, reporter_app):
    client = reporter_app.test_client()
    code, passphrase, _ = submit(reporter_app.test_client())
    assert login(client, code, passphrase).status_code == 303
    stale = form_tokens(client, "/mailbox")
    assert login(client, code, passphrase).status_code == 303  # again, in another tab
    body = message_body("m", stale, REPLY, [])
    response = raw_post(client, "/mailbox/messages?lang=en", body, "m")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f"{REPLY}</textarea>" in page and "another tab" in page
    assert 'id="report-status"' in page  # the mailbox, still signed in
    # Not sent yet: the reply keeps its submission token, and is sent once.
    assert submission_of(page) == {"submission_token": stale["submission_token"]}
    sent = {"csrf_token": TOKEN_RE.search(page).group(1), **submission_of(page), "body": REPLY}
    response = client.post("/mailbox/messages", data=sent, content_type="multipart/form-data")
    assert response.status_code == 303
    # The stale form sent once more: the mailbox says it was sent, offers nothing to resend.
    page = raw_post(client, "/mailbox/messages?lang=en", body, "m").get_data(as_text=True)
    assert 'id="sent-again"' in page and f"{REPLY}</textarea>" not in page
    assert client.get("/mailbox").get_data(as_text=True).count(REPLY) == 1


@pytest.fixture
def one_mib_files_app(demo, env):
    limits = {"SIPADU_MAX_REQUEST_MIB": "3", "SIPADU_MAX_FILE_MIB": "1", "SIPADU_MAX_FILES": "2"}
    app = create_app("reporter", load_config({**env, **limits}))
    app.config["TESTING"] = True
    yield app
    dispose(app)


def test_many_files_and_an_oversize_file_are_named_keeping_the_text(one_mib_files_app):
    """Three files where two may go, or one file over the limit: the page says which
    files must be chosen again, by name, and why."""
    client = one_mib_files_app.test_client()
    files = [(f"lampiran-{n}.txt", b"x", "text/plain") for n in range(3)]
    page = report_with_files(client, files, who="tetap ada").get_data(as_text=True)
    assert "Anda memilih 3 berkas" in page and "tetap ada" in page
    for name, _, _ in files:
        assert f"\u201c{name}\u201d" in page
    big = [("rekaman-rapat-" + "panjang-" * 20 + "sekali.mp4", b"x" * (MIB + 1), "video/mp4")]
    response = report_with_files(client, big, who="tetap ada")
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "rekaman-rapat-panjang" in page and "\u2026.mp4\u201d lebih besar dari 1 MB" in page
    assert "tetap ada" in page and CHOOSE_AGAIN in page
    # Review: a name over 200 characters was named by a fragment from its middle.
    long = "Awal-" + "tengah-" * 60 + "akhir.pdf"
    files = [(long, b"x", "application/pdf"), ("\u202egpj.exe", b"x", "image/jpeg")] * 2
    page = report_with_files(client, files, who="tetap ada").get_data(as_text=True)
    assert "“Awal-tengah-" in page and "….pdf”" in page
    # ... and a right-to-left override, which made "exe.jpg" read as a picture, is gone
    assert "\u202e" not in page and "“gpj.exe”" in page


def test_a_text_at_its_length_limit_with_line_breaks_is_accepted(demo, reporter_app):
    """A browser counts a line break as one character against ``maxlength`` and sends
    it as two (CR LF): main refused, as too long, a text the browser had let the
    reporter type to the limit."""
    client = reporter_app.test_client()
    form = client.get("/report").get_data(as_text=True)
    assert re.search(r'<textarea[^>]*maxlength="20000"[^>]*name="what"', form) or re.search(
        r'<textarea[^>]*name="what"[^>]*maxlength="20000"', form
    )
    typed = ("Baris laporan.\n" * 2000)[:20_000]  # 20,000 characters as the browser counts
    assert len(typed) == 20_000
    _code, _, page = submit(client, what=typed.replace("\n", "\r\n"))
    assert 'id="report-code"' in page


def test_long_file_names_are_shortened_keeping_their_extension(demo, reporter_app):
    client = reporter_app.test_client()
    name = "Laporan keuangan dinas " * 12 + "tahun 2024.pdf"
    files = [(name, b"%PDF-1.4", "application/pdf")]  # unreadable: warned, sent anyway
    code, passphrase = receipt(report_with_files(client, files, send_anyway="1"))
    login(client, code, passphrase)
    page = client.get("/mailbox").get_data(as_text=True)
    shown = re.search(r'title="[^"]*">([^<]+)</a>', page).group(1)
    assert len(shown) <= 60 and shown.endswith("\u2026.pdf") and shown.startswith("Laporan")


def test_the_language_switch_names_the_files_to_choose_again(demo, reporter_app):
    """The language switch keeps the text but cannot keep chosen files: like a refusal,
    it names them, so the reporter knows which ones to choose again."""
    client = reporter_app.test_client()
    data = {
        **form_tokens(client, "/report"),
        **TEXT,
        "switch_language": "en",
        "attachments": [(io.BytesIO(b"%PDF-1.4\n"), "surat-tugas.pdf", "application/pdf")],
    }
    with counting_staged(reporter_app) as staged:
        response = client.post("/report?lang=en", data=data, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and staged == []
    assert TEXT["what"] in page and "The language is changed" in page
    assert "Choose these files again: “surat-tugas.pdf”." in page
