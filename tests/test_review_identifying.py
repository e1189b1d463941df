"""Review of the warning about identifying details (issue 21 item 3): gaps a reviewer
found, each a failing test through the real detector or the real reporter portal (real
app, database, crypto): a NIK copied in groups of four taken for a report code; phone
numbers and addresses written with other dashes, spaces, invisible characters or glued
to their label; identifying details in the names of files; the correction of a typed
report stored without the warning."""

import html
import io
import re
import uuid

import pytest
from sqlalchemy import func, select

from sipadu.persistence.models import Message
from sipadu.services import identifying
from sipadu.services.identifying import Finding, IdentifyingKind, find_identifying, plausible_nik
from sipadu.services.passphrases import format_code, new_code
from tests.helpers import (
    TOKEN,
    database,
    form_tokens,
    jpeg_with_exif,
    mailbox_client,
    receipt,
    report_with_files,
    take_new_code,
    typed_report,
)

NIK, NIP, PHONE, EMAIL = (
    IdentifyingKind.NIK,
    IdentifyingKind.NIP,
    IdentifyingKind.PHONE,
    IdentifyingKind.EMAIL,
)

# --- 1. a NIK in groups of four is no report code ------------------------------------

GROUPED_NIKS = [
    # Copied from a KTP photo or a form in groups of four, without a label: read as a
    # report code (the only 4-4-4-4 shape the detector knew) and let through.
    ("Data saksi: 3171 0145 0890 0003, tinggal di Menteng.", NIK, "…0003"),
    ("3201-0156-0785-0002 (istri bendahara)", NIK, "…0002"),
    ("nomor 3201.0145.0890.0003 ada di berkas", NIK, "…0003"),
    ("Pelaku: 3171\u20130145\u20130890\u20130003", NIK, "…0003"),  # en dashes
]


@pytest.mark.parametrize(("typed", "kind", "shown"), GROUPED_NIKS)
def test_a_nik_in_groups_of_four_is_found_without_a_label(typed, kind, shown):
    assert find_identifying({"what": typed}) == [Finding("what", kind, shown)]


def test_a_report_code_never_has_a_niks_structure():
    """Codes are 16 random digits; 2.8 % of them had a NIK's structure (the reporter
    quoting one would be warned, and a NIK in groups of four could not be told from a
    code). A code is now drawn again until it has none: quoted in groups or not,
    labelled or not, it is never found."""
    codes = [new_code() for _ in range(3000)]
    assert not [c for c in codes if plausible_nik(c)]
    for shown in (format_code, lambda c: c, lambda c: "-".join(format_code(c).split())):
        text = "\n".join(f"Kode saya {shown(c)}; {shown(c)} juga." for c in codes[:300])
        assert find_identifying({"what": text}) == []


NOT_A_NIK = [
    "Kode laporan saya 3171 0145 0890 0003.",  # labelled as a code: the reporter says so
    "nomor rekening 3171 0145 0890 0003",  # labelled as an account
    "3171/0145/0890/0003",  # slashes: a letter's number, never a NIK
    # The reviewer's example: month 45 (digits 9-10 of a NIK are the birth month), so
    # no NIK has these digits; the structure decides, as it does for unbroken numbers.
    "3171 0123 4567 8901",
]


@pytest.mark.parametrize("typed", NOT_A_NIK)
def test_codes_accounts_and_numbers_without_a_niks_structure_in_groups_are_not_found(typed):
    assert find_identifying({"what": typed}) == []


# --- 2. phone numbers and addresses as people write them ------------------------------

WRITTEN = [
    ("Hubungi 0812\u20133456\u20137890 (Pak Budi).", PHONE, "…7890"),  # en dash
    ("Hubungi 0812\u20143456\u20147890.", PHONE, "…7890"),  # em dash
    ("Hubungi 0812\u22123456\u22127890.", PHONE, "…7890"),  # minus sign
    ("Hubungi 0812\u20113456\u20117890.", PHONE, "…7890"),  # non-breaking hyphen
    ("Hubungi 0812\u200b3456\u200b7890.", PHONE, "…7890"),  # zero-width spaces
    ("Hubungi 0812\u00ad3456\u20607890.", PHONE, "…7890"),  # soft hyphen, word joiner
    ("Hubungi 0812\u00a03456\u202f7890.", PHONE, "…7890"),  # no-break spaces
    ("kantor (021)\u00a0555\u20131234", PHONE, "…1234"),
    ("nomor +62 812.3456.7890 aktif", PHONE, "…7890"),
    ("WA0812345678", PHONE, "…5678"),
    ("hubungi wa:08123456789", PHONE, "…6789"),
    ("HP.081234567890", PHONE, "…7890"),
    ("telp08123456789 (kantor)", PHONE, "…6789"),
    ("noHP081234567890", PHONE, "…7890"),
    ("KTP3201014508900003", NIK, "…0003"),
    ("surel budi\uff20gmail.com", EMAIL, "b…@gmail.com"),  # full-width @
    ("surel budi [at] gmail.com", EMAIL, "b…@gmail.com"),
    ("surel budi(at)gmail.com", EMAIL, "b…@gmail.com"),
    ("surel budi {AT} gmail [dot] co [dot] id", EMAIL, "b…@gmail.co.id"),
    ("surel budi.santoso (at) kotaxyz (titik) go (titik) id", EMAIL, "b…@kotaxyz.go.id"),
    ("surel budi @ gmail.com", EMAIL, "b…@gmail.com"),
    ("surel budi.santoso @ gmail . com", EMAIL, "b…@gmail.com"),
    ("surel budi@mail .co . id ya", EMAIL, "b…@mail.co.id"),
    ("kirim ke budi@gmail.com. Terima kasih", EMAIL, "b…@gmail.com"),
    ("surel bu\u200bdi@gm\u200bail.com", EMAIL, "b…@gmail.com"),
    # Written out (final fresh review of issue 21).
    ("surel budi.santoso at gmail dot com", EMAIL, "b…@gmail.com"),
    ("SUREL BUDI AT KOTAXYZ DOT GO DOT ID", EMAIL, "B…@KOTAXYZ.GO.ID"),
    ("surel budi at yahoo.co.id", EMAIL, "b…@yahoo.co.id"),
    ("Hubungi 0812/3456/7890 malam hari.", PHONE, "…7890"),
    ("NIK saya 32 01 01 31 08 90 0001.", NIK, "…0001"),
    ("tercatat 32.01.01.31.08.90.0001 di kelurahan", NIK, "…0001"),
    ("NIP 19 80 01 01 20 05 01 10 01", NIP, "…1001"),
    ("HP 0 8 1 2 3 4 5 6 7 8 9 0 saja", PHONE, "…7890"),
    ("NIK 3 2 0 1 0 1 3 1 0 8 9 0 0 0 0 1", NIK, "…0001"),
    ("HP " + "".join(chr(0x0660 + int(d)) for d in "081234567890"), PHONE, "…7890"),  # Arabic
    (
        "HP " + "".join(chr(0x06F0 + int(d)) if d != "-" else d for d in "0812-3456-7890"),
        PHONE,
        "…7890",
    ),  # Extended Arabic-Indic (Persian, Urdu)
    ("surel budi\u200c.s@gmail\u200d.com", EMAIL, "b…@gmail.com"),
    # Spaced separators, "titik", defanged brackets, a region code then the rest
    # (the last fresh review of issue 21).
    ("hubungi saya di 0812 - 3456 - 7890", PHONE, "…7890"),
    ("hubungi saya di 0812 \u2013 3456 \u2013 7890", PHONE, "…7890"),
    ("WA saya 0812  3456  7890", PHONE, "…7890"),
    ("kantor (021)  555 - 1234", PHONE, "…1234"),
    ("email saya budi at gmail titik com", EMAIL, "b…@gmail.com"),
    ("surel budi at kotaxyz titik go titik id", EMAIL, "b…@kotaxyz.go.id"),
    ("email saya budi[at]gmail[.]com", EMAIL, "b…@gmail.com"),
    ("email saya budi@gmail[.]com", EMAIL, "b…@gmail.com"),
    ("email saya budi(@)gmail.com", EMAIL, "b…@gmail.com"),
    ("NIK 32.01.01-310890-0001", NIK, "…0001"),
    ("NIK 32 01 01-310890-0001", NIK, "…0001"),
    ("resi sudah dikirim, hubungi WA 081234567890", PHONE, "…7890"),  # the nearest label
]


@pytest.mark.parametrize(("typed", "kind", "shown"), WRITTEN)
def test_details_written_with_other_separators_or_glued_to_their_label_are_found(
    typed, kind, shown
):
    assert find_identifying({"what": typed}) == [Finding("what", kind, shown)]


STILL_NOT_FOUND = [
    "Kerugian Rp 8.123.456.789 menurut BPK.",
    "Kerugian Rp\u00a08.123.456.789,\u2013",
    "Kerugian 8\u2009123\u2009456\u2009789 rupiah",  # thin spaces between thousands
    "Rapat 2024\u201301\u201331 pukul 10.30",
    "pada 31\u201301\u20132024",
    "nomor surat 021\u2013SPT\u20132024",
    "SK nomor 800/123/BKD/2023",
    "Uang ditransfer ke rek. 0812345678 a.n. CV Maju.",
    "norek0812345678",  # glued to an account's label
    "faktur INV\u200b3201014508900003",  # glued once the invisible space is gone
    "Kode laporan 3201\u20130145\u20130890\u20130003",
    "Informasi tersedia at lapor.go.id",  # "at" is a word: not read as "@"
    "Rapat at kantor pusat, lalu makan siang at warung dekat pasar.",
    "pada 08/12/2024 dan 31/01/2024",
    "skor 1 2 3 4 5 6 7 8 9 0 1 2",
    "nomor urut 0 1 2 3 4 5 6 7 8 9",
    "Rapat @ 10.30 di ruang 2",
    "antara tahun 2019 - 2020",
    "Kerugian Rp 1.000.000 - 2.000.000",
    "pukul 10.30 - 12.00 WIB",
    "tanggal 01 - 02 - 2024 dan 31 / 01 / 2024",
    "nomor surat 800 / 1234 / 2024",
    "Kode laporan 1234  5678  9012  3456",
    "tahun 2010  2011  2012  2013",
    "RT 003 / RW 012, ruang 0812 / 22",
    "kumpul at kantor titik jam 9",  # "titik" then no domain's end
    "harga (@) Rp 5.000, lihat [.] sana",
    "no resi JNE 081234567890 belum sampai",  # labelled as other numbers than a person's
    "tiket KAI 0812345678901",
    "invoice 021555123456, kontrak 081234567890, trx 0812-3456-7890",
]


@pytest.mark.parametrize("typed", STILL_NOT_FOUND)
def test_amounts_dates_letters_accounts_and_codes_stay_unfound(typed):
    assert find_identifying({"what": typed}) == []


# --- 3. file names ------------------------------------------------------------------------

NAMES = [
    ("KTP_3201014508900003.jpg", NIK, "…0003"),
    ("surat_budi.santoso@gmail.com.pdf", EMAIL, "b…@gmail.com"),
    ("budi@gmail.com", EMAIL, "b…@gmail.com"),
    ("WA0812345678.jpg", PHONE, "…5678"),
    ("rekaman 0812-3456-7890.m4a", PHONE, "…7890"),
    ("SK NIP 198001012005011001.pdf", NIP, "…1001"),
]


@pytest.mark.parametrize(("name", "kind", "shown"), NAMES)
def test_a_details_in_a_file_name_is_found(name, kind, shown):
    assert identifying.scan_name(name) == [Finding("name", kind, shown)]


@pytest.mark.parametrize(
    "name",
    [
        "IMG_20240131_083015.jpg",
        "IMG-20240131-WA0012.jpg",
        "VID-20240131-WA0003.mp4",
        "WhatsApp Image 2024-01-31 at 08.12.34.jpeg",
        "Screenshot_20240131-081234_WhatsApp.jpg",
        "Screenshot_2024-01-31-08-12-34-567_com.whatsapp.jpg",
        "PXL_20240131_083015123.jpg",
        "DSC_0812.JPG",
        "scan 2024-01-31 (1).pdf",
        "kuitansi_Rp_8.123.456.789.pdf",
        "surat 800_123_BKD_2023.pdf",
    ],
)
def test_camera_messenger_and_ordinary_names_hold_none(name):
    assert identifying.scan_name(name) == []


# --- the portal ---------------------------------------------------------------------------


def fields_of(page: str) -> dict[str, str]:
    """The hidden fields a warned page carries forward (tokens, kept files, marks)."""
    found = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page))
    found["csrf_token"] = TOKEN.search(page).group(1)
    return {k: v for k, v in found.items() if k != "file_notices"}


def messages(database_url) -> int:
    with database(database_url) as session:
        return session.scalar(select(func.count()).select_from(Message))


def test_a_file_whose_name_holds_a_nik_is_named_before_anything_is_stored(
    people, reporter_app, database_url
):
    """The report's text holds nothing; the photo is cleaned; its name, stored with it
    and shown to investigators, is the reporter's NIK: it went through silently."""
    client = reporter_app.test_client()
    photo = ("KTP_3201014508900003.jpg", jpeg_with_exif("Kantor"), "image/jpeg")
    first = report_with_files(client, [photo], what="Lihat foto terlampir.")
    page = html.unescape(first.get_data(as_text=True))
    assert first.status_code == 200 and 'id="identifying-warning"' in page, page[:300]
    assert (
        "Nama berkas “KTP_3201014508900003.jpg” memuat nomor yang tampak seperti NIK: …0003" in page
    )
    assert 'href="#kept-file-0"' in page and 'id="report-code"' not in page
    data = {
        "category": "kkn",
        "title": "Dengan bukti",
        "what": "Lihat foto terlampir.",
        "passphrase": "",
        "passphrase_confirm": "",
        **fields_of(page),
        "send_anyway": "1",
        "attachments": [(io.BytesIO(b""), "", "application/octet-stream")],
    }
    sent = client.post("/report", data=data, content_type="multipart/form-data")
    receipt(sent)


def test_mailbox_files_named_with_a_phone_number_or_an_address_are_named(
    people, reporter_app, database_url
):
    client = reporter_app.test_client()
    code, passphrase = receipt(report_with_files(client, []))
    box = mailbox_client(reporter_app, code, passphrase)
    before = messages(database_url)
    data = {
        **form_tokens(box, "/mailbox"),
        "body": "Dua berkas tambahan.",
        "attachments": [
            (io.BytesIO(b"catatan"), "WA0812345678.txt", "text/plain"),
            (io.BytesIO(b"surat"), "surat_budi.santoso@gmail.com.txt", "text/plain"),
        ],
    }
    warned = box.post("/mailbox/messages", data=data, content_type="multipart/form-data")
    page = html.unescape(warned.get_data(as_text=True))
    assert warned.status_code == 200 and 'id="identifying-warning"' in page
    assert "Nama berkas “WA0812345678.txt” memuat nomor telepon: …5678" in page
    assert "Nama berkas “surat_budi.santoso@gmail.com.txt” memuat alamat surel: b…@gmail.com" in (
        page
    )
    assert 'href="#kept-file-1"' in page
    assert messages(database_url) == before


# --- 4. the correction of a typed report ------------------------------------------------


def test_a_correction_with_a_phone_number_is_warned_about_before_it_is_recorded(
    env, people, reporter_app, database_url
):
    """The reporter's answer to a typed report (issue 18) is a message the investigators
    read, and was stored at once whatever it held; a reply typed beside it, and the
    correction itself, must come back as typed."""
    box = mailbox_client(reporter_app, *typed_report(env, f"Koreksi {uuid.uuid4().hex[:8]}"))
    take_new_code(box)
    correction = "Yang benar loket 4. Hubungi saya di 0812\u20133456\u20137890."
    reply = "Saya ingat satu hal lagi."
    before = messages(database_url)
    data = {**form_tokens(box, "/mailbox"), "body": reply, "correction": correction}
    warned = box.post("/mailbox/transcript", data={**data, "answer": "correct"})
    page = html.unescape(warned.get_data(as_text=True))
    assert warned.status_code == 200 and 'id="identifying-warning"' in page, page[:500]
    assert "Nomor telepon di kolom “Apa yang seharusnya berbeda?”: …7890" in page
    assert 'href="#correction"' in page and 'id="transcript"' in page
    assert re.search(r'<textarea[^>]*name="correction"[^>]*>\s*' + re.escape(correction), page)
    assert re.search(r'<textarea[^>]*name="body"[^>]*>\s*' + re.escape(reply), page)
    anyway = re.search(r'<button[^>]*id="send-anyway"[^>]*>', page).group(0)
    assert 'formaction="/mailbox/transcript"' in anyway and 'form="message-form"' in anyway
    assert messages(database_url) == before

    # The language switch (the message form, to its own address) keeps the warning.
    carried = {**fields_of(page), "body": reply, "correction": correction}
    switched = box.post("/mailbox/messages?lang=en", data={**carried, "switch_language": "en"})
    shown = html.unescape(switched.get_data(as_text=True))
    assert switched.status_code == 200
    assert "A phone number in “What should be different?”: …7890" in shown
    assert correction in shown and reply in shown
    assert messages(database_url) == before

    # "Send anyway": what a browser sends from the message form, to the answer's address.
    carried = {**fields_of(shown), "body": reply, "correction": correction}
    sent = box.post("/mailbox/transcript", data={**carried, "send_anyway": "1"})
    done = html.unescape(sent.get_data(as_text=True))
    assert sent.status_code == 200 and 'id="transcript-answered"' in done
    assert 'id="kept-reply"' in done and done.count(reply) == 1  # the reply kept, unsent
    assert messages(database_url) == before + 1
    assert correction in html.unescape(box.get("/mailbox").get_data(as_text=True))
