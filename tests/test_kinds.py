"""File kinds are told from content only (issue 21): real files made here with Pillow,
pillow-heif, LibreOffice and ffmpeg, named by their bytes whatever they are called."""

import io
import os
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from sipadu.evidence.kinds import (
    DOCUMENT_KINDS,
    HEAD_BYTES,
    IMAGE_KINDS,
    UNCLEANED_KINDS,
    archive_kind,
    detect,
)
from sipadu.evidence.outcome import Kind
from tests.office_files import soffice


def head(data: bytes) -> bytes:
    return data[:HEAD_BYTES]


def picture(pillow_format: str, **options: object) -> bytes:
    from PIL import Image

    if pillow_format == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 30)).save(out, pillow_format, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    "pillow_format, options, kind",
    [
        ("JPEG", {}, Kind.JPEG),
        ("PNG", {}, Kind.PNG),
        ("WEBP", {}, Kind.WEBP),
        ("GIF", {}, Kind.GIF),
        ("TIFF", {}, Kind.TIFF),
        ("TIFF", {"compression": "tiff_lzw"}, Kind.TIFF),
        ("HEIF", {}, Kind.HEIF),
        ("PDF", {}, Kind.PDF),
    ],
)
def test_pictures_and_pdfs_are_told_from_their_bytes(pillow_format, options, kind):
    assert detect(head(picture(pillow_format, **options))) == kind


def test_both_tiff_byte_orders_and_bigtiff_are_tiff():
    little = picture("TIFF")
    big = b"MM\x00\x2a" + little[4:]  # only the order mark matters to detection
    bigtiff = b"II\x2b\x00\x08\x00\x00\x00" + bytes(8)
    assert detect(little) == detect(big) == Kind.TIFF
    assert little.startswith(b"II*\x00")
    assert detect(bigtiff) is None  # filetype does not know BigTIFF; Pillow cannot clean it


def test_a_name_or_declared_type_changes_nothing():
    """A JPEG renamed .pdf is a JPEG, a PDF named .jpg a PDF: detect sees bytes only."""
    assert detect(picture("JPEG")) == Kind.JPEG
    assert detect(picture("PDF")) == Kind.PDF


def test_a_pdf_after_junk_is_a_pdf_as_readers_accept_it_but_not_past_1024_bytes():
    assert detect(b"\r\n" * 100 + b"%PDF-1.7\n") == Kind.PDF
    assert detect(b"x" * 1030 + b"%PDF-1.7\n") is None


def brands(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00\x00\x00\x08free"


@pytest.mark.parametrize(
    "box, kind",
    [
        (brands(b"heic", b"mif1", b"heic"), Kind.HEIF),
        (brands(b"mif1", b"mif1", b"heic"), Kind.HEIF),
        (brands(b"msf1", b"msf1", b"hevc"), Kind.HEIF),
        (brands(b"heix", b"mif1"), Kind.HEIF),
        (brands(b"avif", b"mif1", b"avif"), None),
        (brands(b"mif1", b"mif1", b"avif", b"miaf"), None),
        (brands(b"M4A ", b"M4A ", b"mp42", b"isom"), Kind.M4A),
        (brands(b"isom", b"isom", b"mp41"), Kind.MP4),
        (brands(b"qt  ", b"qt  "), Kind.MP4),
        (brands(b"3gp4", b"3gp4", b"isom"), Kind.MP4),
        (brands(b"3g2a", b"3g2a"), Kind.MP4),
        (brands(b"crx ", b"crx "), None),  # a Canon raw photo: not cleaned here
        (brands(b"jp2 ", b"jp2 "), None),
    ],
    ids=lambda value: value.name if isinstance(value, Kind) else None,
)
def test_iso_media_files_are_told_by_their_brands(box, kind):
    assert detect(box) == kind


def test_a_zip_is_an_office_document_only_by_its_parts():
    def zipped(*names: str, first_mimetype: bytes | None = None) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            if first_mimetype is not None:
                archive.writestr(zipfile.ZipInfo("mimetype"), first_mimetype)
            for name in names:
                archive.writestr(name, "<x/>", compress_type=zipfile.ZIP_DEFLATED)
        return out.getvalue()

    assert detect(zipped("[Content_Types].xml", "_rels/.rels", "word/document.xml")) == Kind.DOCX
    assert detect(zipped("[Content_Types].xml", "xl/workbook.xml")) == Kind.XLSX
    assert detect(zipped("[Content_Types].xml", "ppt/presentation.xml")) == Kind.PPTX
    assert detect(zipped("laporan.txt", "foto/wordy.txt")) is None  # a plain ZIP
    odf = b"application/vnd.oasis.opendocument."
    assert detect(zipped("content.xml", first_mimetype=odf + b"text")) == Kind.ODT
    assert detect(zipped("content.xml", first_mimetype=odf + b"spreadsheet")) == Kind.ODS
    assert detect(zipped("content.xml", first_mimetype=odf + b"presentation")) == Kind.ODP
    assert detect(zipped("content.xml", first_mimetype=odf + b"graphics")) is None
    assert detect(zipped("OEBPS/x.html", first_mimetype=b"application/epub+zip")) is None
    # A ZIP whose ODF "mimetype" is not its first member is not ODF.
    assert detect(zipped("a.txt", "mimetype")) is None


def zip_of(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members:
            archive.writestr(name, data, compress_type=method)
    return out.getvalue()


OOXML_PARTS = [("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<w:document/>")]


def test_a_zip_whose_first_member_fills_the_head_goes_to_the_child_to_be_told():
    """A Word document whose first member is a 15 KB thumbnail (Word for Mac writes
    docProps/thumbnail.jpeg first): the head holds no other local header, so it is
    :attr:`Kind.ZIP` (its central directory, at the end, is read by the child), never
    "a type that is not cleaned"."""
    thumbnail = ("docProps/thumbnail.jpeg", os.urandom(15_000))
    document = zip_of([thumbnail, *OOXML_PARTS], zipfile.ZIP_STORED)
    assert len(document) > HEAD_BYTES
    assert detect(document) == Kind.ZIP
    assert detect(document[:HEAD_BYTES]) == Kind.ZIP  # all the server keeps
    # So is a plain archive of the same shape: only its directory tells it apart.
    assert detect(zip_of([thumbnail, ("catatan.txt", b"x")], zipfile.ZIP_STORED)) == Kind.ZIP


def test_a_zip_whose_head_holds_all_its_members_is_decided_there():
    # Shorter than the head: its central directory is in it.
    assert detect(zip_of(OOXML_PARTS)) == Kind.DOCX
    assert detect(zip_of([("foto/a.txt", b"x"), ("b.txt", b"y")])) is None
    # Longer, but the walk reaches the central directory where the sizes say.
    padding = [("isi.bin", os.urandom(3000)), ("lain.txt", b"z" * 3000)]
    plain = zip_of([*padding, ("c.txt", b"c")], zipfile.ZIP_STORED) + bytes(HEAD_BYTES)
    assert detect(plain[:HEAD_BYTES]) is None
    # Members seen in the head that name a document decide at once.
    big = zip_of([*OOXML_PARTS, ("word/media/foto.bin", os.urandom(20_000))])
    assert detect(big) == Kind.DOCX


def test_a_word_folder_without_content_types_is_a_plain_zip():
    """OOXML needs ``[Content_Types].xml`` (ECMA-376 part 2 §10.1.2) with its parts: a
    ZIP holding a folder named ``word/`` is an archive of someone's files."""
    assert detect(zip_of([("word/document.xml", b"<x/>"), ("word/a.txt", b"y")])) is None
    assert detect(zip_of([("xl/laporan.csv", b"1,2")])) is None
    assert archive_kind(["word/document.xml"], None) is None
    assert archive_kind(["[Content_Types].xml"], None) is None
    assert archive_kind(["[Content_Types].xml", "_rels/.rels", "xl/workbook.xml"], None) == (
        Kind.XLSX
    )
    odt = b"application/vnd.oasis.opendocument.text"
    assert archive_kind(["mimetype", "content.xml"], odt) == Kind.ODT
    assert archive_kind(["mimetype", "content.xml"], b"application/epub+zip") is None
    assert archive_kind(["content.xml", "mimetype"], None) is None


def test_mp3_is_an_id3_tag_or_two_frame_headers():
    frame = b"\xff\xfb\x90\x64" + bytes(413)  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
    assert detect(frame * 3) == Kind.MP3
    assert detect(b"\xff\xfb\x90\x64" + bytes(413) + b"junk" * 10) is None
    assert detect(b"ID3\x04\x00\x00\x00\x00\x00\x10" + bytes(16) + frame) == Kind.MP3
    assert detect(b"ID3\x04\x00\x00\x00\x00\x00\x10" + bytes(16) + b"fLaC") == Kind.FLAC
    assert detect(b"\xff\xd8\xff\xe0") == Kind.JPEG  # not a frame sync
    assert detect(b"\xff\xf1\x50\x80" * 50) != Kind.MP3  # AAC in ADTS: layer bits 00


def adts_frame(length: int, crc: bool = False, rate_index: int = 4) -> bytes:
    """An ADTS frame header (ISO/IEC 14496-3 §1.A.2.2) of a ``length``-byte frame,
    padded to that length."""
    header = bytes(
        [
            0xFF,
            0xF0 | (0 if crc else 1),  # MPEG-4, layer 00, protection_absent
            0x40 | rate_index << 2,  # AAC LC
            0x80 | length >> 11,  # two channels
            (length >> 3) & 0xFF,
            (length & 7) << 5 | 0x1F,
            0xFC,
        ]
    )
    return header + bytes(max(0, length - len(header)))


def test_aac_is_two_adts_frame_headers_alone_or_behind_an_id3_tag():
    """Before, AAC in ADTS was "a type that cannot be cleaned" (filetype's AAC, two of
    the four sync patterns, was not taken)."""
    frames = adts_frame(371) + adts_frame(380, crc=True) + adts_frame(365)
    assert detect(frames) == Kind.AAC
    assert detect(adts_frame(371)) == Kind.AAC  # the second header is past the file
    assert detect(adts_frame(371) + b"junk" * 100) is None
    assert detect(adts_frame(371, rate_index=13) * 3) is None  # a reserved sampling rate
    assert detect(adts_frame(6) + adts_frame(371)) is None  # shorter than its header
    assert detect(b"ID3\x04\x00\x00\x00\x00\x00\x10" + bytes(16) + frames) == Kind.AAC


def test_recordings_are_told_by_their_container_signatures():
    asf = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
    assert detect(asf + bytes(100)) == Kind.ASF
    assert detect(asf[:10] + bytes(100)) is None  # filetype's WMV: ten of the sixteen bytes
    assert detect(b"FLV\x01\x05\x00\x00\x00\x09" + bytes(100)) == Kind.FLV
    assert detect(b"#!AMR\n" + b"\x3c" + bytes(31)) == Kind.AMR
    assert detect(b"#!AMR-WB\n" + b"\x44" + bytes(60)) == Kind.AMR
    assert detect(b"#!AMR_MC1.0\n" + bytes(40)) is None  # several channels: ffmpeg reads none
    assert detect(b"caff\x00\x01\x00\x00desc" + bytes(40)) == Kind.CAF
    assert detect(b"FORM\x00\x00\x10\x00AIFFCOMM" + bytes(40)) == Kind.AIFF
    assert detect(b"FORM\x00\x00\x10\x00AIFCFVER" + bytes(40)) == Kind.AIFF
    assert detect(b"FORM\x00\x00\x10\x00ILBMBMHD" + bytes(40)) is None  # an Amiga picture


def test_program_streams_by_their_pack_header():
    """An MPEG program stream (.mpg, DVD .vob, camcorders' .mod) was "a type that cannot be
    cleaned": its pack header says MPEG-1 (marker bits 0010) or MPEG-2 (01)."""
    pack = b"\x00\x00\x01\xba"
    assert detect(pack + b"\x21\x00\x01\x00\x01\x80" + bytes(100)) == Kind.MPEGPS
    assert detect(pack + b"\x44\x00\x04\x00\x04\x01" + bytes(100)) == Kind.MPEGPS
    assert detect(pack + b"\x00" + bytes(100)) is None  # neither version's marker bits
    assert detect(pack) is None  # a start code alone
    assert detect(b"\x00\x00\x01\xb3" + bytes(100)) is None  # video without a system layer


def test_transport_streams_of_188_and_192_byte_packets():
    packet = b"\x47\x40\x00\x10" + bytes(184)
    assert detect(packet * 50) == Kind.MPEGTS
    assert detect((bytes(4) + packet) * 50) == Kind.MPEGTS  # .mts/.m2ts: a time code first
    assert detect(packet * 2) is None  # too short to hold a recording
    assert detect(packet * 20 + b"x" + packet * 20) is None  # a byte out of step
    assert detect(b"G" + bytes(500)) is None


def test_every_document_audio_and_video_kind_has_a_cleaner():
    """A kind detect names goes to the child that cleans it, which must take it (else
    the upload would fail instead of being cleaned or kept as sent)."""
    from sipadu.evidence import docclean

    assert DOCUMENT_KINDS <= docclean.KINDS


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"Laporan pengaduan\nNIK 3171234567890123\n",
        "Laporan dengan huruf ŝ".encode(),
        b"\x7fELF\x02\x01\x01" + bytes(60),  # an executable
        b"MZ\x90\x00" + bytes(60),  # a Windows executable
        bytes(8192),
        b"PK\x03\x04",
        b"RIFF\x00\x00\x00\x00ABCD",
    ],
    ids=["empty", "text", "utf8", "elf", "exe", "zeros", "short-zip", "riff"],
)
def test_files_sipadu_does_not_clean_are_none(data):
    assert detect(data) is None


def test_image_document_and_uncleaned_kinds_split_every_kind():
    assert IMAGE_KINDS == {Kind.JPEG, Kind.PNG, Kind.WEBP, Kind.GIF, Kind.TIFF, Kind.HEIF}
    assert UNCLEANED_KINDS == {Kind.OLE, Kind.RTF}
    assert IMAGE_KINDS | DOCUMENT_KINDS | UNCLEANED_KINDS == set(Kind)
    assert not IMAGE_KINDS & DOCUMENT_KINDS and not UNCLEANED_KINDS & DOCUMENT_KINDS


def test_older_office_files_and_rtf_are_recognised():
    """Word/Excel/PowerPoint 97-2003 and RTF are told (so the reporter is warned that
    they keep who made them), not cleaned (tests/test_review_final21.py)."""
    assert detect(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)) is Kind.OLE
    assert detect(b"{\\rtf1\\ansi Halo}") is Kind.RTF
    assert detect(b"{\\rtx") is None


def test_audio_and_video_made_by_ffmpeg(tmp_path):
    tone, picture_ = (
        ["-f", "lavfi", "-i", "sine=d=0.3"],
        ["-f", "lavfi", "-i", "testsrc=s=64x48:r=5"],
    )
    made = {
        "a.mp3": (tone, Kind.MP3),
        "raw.mp3": ([*tone, "-id3v2_version", "0", "-write_xing", "0"], Kind.MP3),
        "a.m4a": ([*tone, "-c:a", "aac"], Kind.M4A),
        "a.ogg": ([*tone, "-c:a", "libvorbis"], Kind.OGG),
        "a.opus": ([*tone, "-c:a", "libopus"], Kind.OGG),
        "a.flac": (tone, Kind.FLAC),
        "a.wav": (tone, Kind.WAV),
        "v.mp4": ([*picture_, "-t", "0.4", "-pix_fmt", "yuv420p"], Kind.MP4),
        "v.mov": ([*picture_, "-t", "0.4"], Kind.MP4),
        "v.3gp": ([*picture_, "-t", "0.4", "-c:v", "h263", "-s", "128x96"], Kind.MP4),
        "v.webm": ([*picture_, "-t", "0.4", "-c:v", "libvpx", "-deadline", "realtime"], Kind.WEBM),
        "v.mkv": ([*picture_, "-t", "0.4", "-c:v", "mpeg4"], Kind.WEBM),
        "v.avi": ([*picture_, "-t", "0.4", "-c:v", "mpeg4"], Kind.AVI),
        "v.ogv": ([*picture_, "-t", "0.4", "-c:v", "libtheora"], Kind.OGG),
        "a.aac": ([*tone, "-c:a", "aac"], Kind.AAC),
        "id3.aac": ([*tone, "-c:a", "aac", "-write_id3v2", "1"], Kind.AAC),
        "a.wma": ([*tone, "-c:a", "wmav2"], Kind.ASF),
        "v.wmv": ([*picture_, "-t", "0.4", "-c:v", "wmv2"], Kind.ASF),
        "v.ts": ([*picture_, "-t", "0.4", "-c:v", "mpeg2video"], Kind.MPEGTS),
        "v.m2ts": ([*picture_, "-t", "0.4", "-c:v", "libx264"], Kind.MPEGTS),
        "v.mts": ([*picture_, "-t", "0.4", "-f", "mpegts", "-mpegts_m2ts_mode", "1"], Kind.MPEGTS),
        "v.flv": ([*picture_, "-t", "0.4", "-c:v", "flv"], Kind.FLV),
        "v.mpg": ([*picture_, "-t", "0.4", "-r", "25", "-c:v", "mpeg1video"], Kind.MPEGPS),
        "v.vob": ([*picture_, "-t", "0.4", "-r", "25", "-c:v", "mpeg2video"], Kind.MPEGPS),
        "a.caf": (tone, Kind.CAF),
        "a.aiff": (tone, Kind.AIFF),
        "a.aifc": ([*tone, "-c:a", "adpcm_ima_qt"], Kind.AIFF),
        "a.mka": ([*tone, "-c:a", "libopus"], Kind.WEBM),
    }
    for name, (arguments, kind) in made.items():
        path = tmp_path / name
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", *arguments, str(path)], check=True, timeout=60
        )
        assert detect(path.read_bytes()[:HEAD_BYTES]) == kind, name


def test_office_documents_made_by_libreoffice(tmp_path):
    (tmp_path / "surat.txt").write_text("Laporan uji\n")
    (tmp_path / "tabel.csv").write_text("a,b\n1,2\n")
    made = {
        "surat.docx": ("surat.txt", "docx", Kind.DOCX),
        "surat.odt": ("surat.txt", "odt", Kind.ODT),
        "tabel.xlsx": ("tabel.csv", "xlsx", Kind.XLSX),
        "tabel.ods": ("tabel.csv", "ods", Kind.ODS),
        "surat.pptx": ("surat.txt", "pptx:Impress MS PowerPoint 2007 XML", Kind.PPTX),
        "slides.odp": ("surat.pptx/surat.pptx", "odp", Kind.ODP),
    }
    for name, (source, target, _) in made.items():  # in order: the ODP is made of the PPTX
        soffice(tmp_path, target, [tmp_path / source], tmp_path / name)
    for name, (_, _, kind) in made.items():
        (converted,) = Path(tmp_path / name).iterdir()
        data = converted.read_bytes()
        assert detect(data[:HEAD_BYTES]) == kind, name
        # Named as something else, it is still what its bytes say.
        assert detect(data[:HEAD_BYTES]) == detect(bytearray(data[:HEAD_BYTES])), name
