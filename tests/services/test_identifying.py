"""Identifying details in a reporter's text (:mod:`sipadu.services.identifying`): NIK, NIP,
Indonesian phone numbers and e-mail addresses are found in Indonesian sentences; amounts,
dates, report codes, labelled bank accounts, numbers without the structure and numbers
inside longer runs are not."""

import pytest

from sipadu.services.identifying import (
    LISTED_PER_FIELD,
    Finding,
    IdentifyingKind,
    find_identifying,
    plausible_nik,
    plausible_nip,
    scan_identifying,
)
from sipadu.services.passphrases import format_code, new_code

NIK, NIP, PHONE, EMAIL = (
    IdentifyingKind.NIK,
    IdentifyingKind.NIP,
    IdentifyingKind.PHONE,
    IdentifyingKind.EMAIL,
)

FULL_WIDTH = "HP " + "".join(chr(0xFF10 + int(d)) for d in "081234567890")

POSITIVE = [
    ("Saya pegawai dengan NIK 3201014508900003 di bagian keuangan.", NIK, "…0003"),
    ("NIK: 3171012301850001, tinggal di Jakarta.", NIK, "…0001"),
    ("KTP saya 32.01.01.450890.0003 sudah difotokopi.", NIK, "…0003"),
    ("nomor induk 320101 450890 0003 tercatat", NIK, "…0003"),
    ("Bendahara (NIK 9471016712990123) menerima uang.", NIK, "…0123"),
    ("atasan saya, NIP 198001012005011001, memerintahkan", NIP, "…1001"),
    ("NIP 19800101 200501 1 001 tertera di SK.", NIP, "…1001"),
    ("NIP: 19751231.199903.2.004 (Kasubag Umum)", NIP, "…2004"),
    ("Hubungi saya di 081234567890 setelah jam kantor.", PHONE, "…7890"),
    ("WA saya 0812-3456-7890 ya pak.", PHONE, "…7890"),
    ("nomor HP 0812 3456 789 milik saya", PHONE, "…6789"),
    ("telepon +62 812-3456-7890 kapan saja", PHONE, "…7890"),
    ("telepon +6281234567890.", PHONE, "…7890"),
    ("bisa juga 62 857 1234 5678", PHONE, "…5678"),
    ("kantor (021) 555-1234 ext 12", PHONE, "…1234"),
    ("telp kantor 021-5551234", PHONE, "…1234"),
    ("rumah 0274 512345 di Yogyakarta", PHONE, "…2345"),
    ("nomor 0812.3456.7890 aktif", PHONE, "…7890"),
    ("Kirim ke budi.santoso@gmail.com saja.", EMAIL, "b…@gmail.com"),
    ("email dinas: budi_s@inspektorat.kotaxyz.go.id", EMAIL, "b…@inspektorat.kotaxyz.go.id"),
    ("<Siti.Aminah+lapor@yahoo.co.id>", EMAIL, "S…@yahoo.co.id"),
    (FULL_WIDTH, PHONE, "…7890"),
]


@pytest.mark.parametrize(("text", "kind", "shown"), POSITIVE)
def test_an_identifying_detail_is_found_in_indonesian_text(text, kind, shown):
    assert find_identifying({"what": text}) == [Finding("what", kind, shown)]


NEGATIVE = [
    "Kerugian negara Rp 1.234.567.890.123.456 menurut BPK.",
    "Kerugian Rp 3201014508900003 (angka dari laporan).",
    "Kerugian Rp3201014508900003",
    "nilai kontrak IDR 3201014508900003",
    "dibayar 3201014508900003,00 ke rekanan",
    "dibayar 3201014508900003,- ke rekanan",
    "Tanggal 2024-01-31 rapat dimulai.",
    "pada 31/01/2024 pukul 10.30",
    "pada 08.12.2024 10.30 WIB",
    "pada 08-12-2024 jam 09.15",
    "Kode laporan saya 1234 5678 9012 3456.",
    "Kode laporan: 3201014508900003",
    "report code 3201-0145-0890-0003",
    "Transfer ke rekening BRI no. rek 3201014508900003 a.n. CV Maju",
    "nomor rekening: 3201014508900003",
    "nomor 1234567890123456 tidak bermakna",  # province 12, day 78: no NIK
    "nomor 9901014508900003 bukan NIK",  # province 99 does not exist
    "nomor 3200014508900003 bukan NIK",  # regency 00
    "nomor 3201011399900003 bukan NIK",  # month 99
    "nomor 3201014508900000 bukan NIK",  # sequence 0000
    "nomor seri 32010145089000031 (17 digit)",
    "nomor seri 123201014508900003456",
    "faktur INV3201014508900003",
    "NIP 198013012005011001 tidak sah",  # month 13
    "NIP 198001012005013001 tidak sah",  # sex 3
    "NIP 199001012000011001 tidak sah",  # appointed at ten
    "Anggaran 2023 sebesar 1.500.000.000 rupiah",
    "nomor surat 021/SPT/2024",
    "pasal 08 ayat 12",
    "SK nomor 800/123/BKD/2023 tanggal 5 Januari 2023",
    "kamar 0123 lantai 2",
    "alamat surel tidak ada @ di sini, misalnya budi@",
]


@pytest.mark.parametrize("text", NEGATIVE)
def test_amounts_dates_codes_accounts_and_other_numbers_are_not_found(text):
    assert find_identifying({"what": text}) == []


def test_report_codes_as_the_portal_shows_them_are_never_found():
    codes = [new_code() for _ in range(300)]
    text = " ".join(f"kode {format_code(code)}." for code in codes)
    assert find_identifying({"what": text}) == []
    # Shown in groups: never a NIK, even with no label before it.
    assert find_identifying({"what": ", ".join(format_code(c) for c in codes)}) == []


def test_fields_are_kept_apart_and_findings_come_in_text_order():
    found = find_identifying(
        {
            "title": "Pungli di kantor",
            "what": "Telepon 081234567890, lalu surel ke ani@mail.com; NIK 3201014508900003",
            "who": "Pak Budi, NIP 198001012005011001",
        }
    )
    assert found == [
        Finding("what", PHONE, "…7890"),
        Finding("what", EMAIL, "a…@mail.com"),
        Finding("what", NIK, "…0003"),
        Finding("who", NIP, "…1001"),
    ]


def test_a_nip_is_not_also_a_phone_number_nor_a_nik():
    found = find_identifying({"who": "NIP 198001012005011001"})
    assert [f.kind for f in found] == [NIP]


def test_the_structure_rules():
    assert plausible_nik("3201014508900003")
    assert plausible_nik("3201017108900003")  # a woman born on the 31st: 31 + 40
    assert not plausible_nik("3201017208900003")  # day 72
    assert not plausible_nik("3201014008900003")  # day 40: neither a man's nor a woman's
    assert not plausible_nik("32010145089000")
    assert plausible_nip("198001012005011001")
    assert plausible_nip("197512311999032004")
    assert not plausible_nip("198001012005011000")  # sequence 000
    assert not plausible_nip("198001012005131001")  # appointed in month 13


# Found since the detector reads numbers run by run (tests/test_review_warning.py has the
# reviewer's cases): the nearest label decides, a run holds more than one number, and a
# number glued to a date or a count is still read.
MORE_POSITIVE = [
    ("Nomor rekening saya, HP 081234567890", PHONE, "…7890"),
    ("kode etik 3201014508900003", NIK, "…0003"),
    ("tahun 2019 081234567890", PHONE, "…7890"),
    ("HP 081234567890 10.00 WIB", PHONE, "…7890"),
    ("Budi (081234567890) hadir", PHONE, "…7890"),
    ("+62 (21) 555-1234", PHONE, "…1234"),
    ("Saksi:\n- NIP 198001012005011001.\n- Jabatan", NIP, "…1001"),
]


@pytest.mark.parametrize(("text", "kind", "shown"), MORE_POSITIVE)
def test_the_nearest_label_and_each_number_of_a_run_count(text, kind, shown):
    assert find_identifying({"what": text}) == [Finding("what", kind, shown)]


def test_two_phone_numbers_in_one_run_are_both_found():
    found = find_identifying({"what": "0812345678 0813111122 bisa dihubungi"})
    assert found == [Finding("what", PHONE, "…5678"), Finding("what", PHONE, "…1122")]


def test_an_amount_field_holds_amounts_but_a_phone_number_there_is_found():
    for loss in ("6250000000", "Rp 62.500.000.000", "3201014508900003", "62 500 000 000"):
        assert find_identifying({"loss": loss}, amount_fields={"loss"}) == [], loss
    found = find_identifying({"loss": "5 juta, HP 081234567890"}, amount_fields={"loss"})
    assert found == [Finding("loss", PHONE, "…7890")]


def test_at_most_ten_findings_per_field_are_made_the_others_counted():
    scan = scan_identifying({"a": "x@y.co " * 25, "b": "ani@mail.com"})
    assert [f.field for f in scan.findings] == ["a"] * LISTED_PER_FIELD + ["b"]
    assert scan.unlisted == {"a": 25 - LISTED_PER_FIELD}
