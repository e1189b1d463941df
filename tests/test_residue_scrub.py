"""Issue 21 review: what names people outside the document properties of office files
(sipadu.evidence.officescrub, through officeclean) and inside the pictures of PDFs
(sipadu.evidence.picturescrub) is removed, and what still names someone is told.

The office XML is scrubbed by a tokenizer that must keep every other byte (Word refuses
files whose prefixes were renamed), by local names whatever the prefix; pictures inside
PDFs lose their metadata without being decoded, and still decode to the same pixels.
Real files: made here with zipfile, Pillow (OpenJPEG), LibreOffice and ffmpeg.
"""

import base64
import io
import json
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from sipadu.evidence import docclean, officeclean, officescrub, picturescrub
from sipadu.evidence.confinement import Confinement
from sipadu.evidence.outcome import Kind, Remaining, Removed
from tests.office_files import FLAT_HEAD, soffice

NAME = "Siti Rahayu Pelapor"
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
LIMITS = Confinement(768 << 20, 20, 0)


def clean(data: bytes, kind: Kind) -> tuple[docclean.Cleaned, io.BytesIO]:
    """What docclean's child says of ``data``, and the clean copy it wrote."""
    out = io.BytesIO()
    size = docclean.file_bytes_for(len(data))
    limits = Confinement(LIMITS.memory_bytes, LIMITS.cpu_seconds, size)
    return docclean.clean([data], kind, limits, out.write), out


# --- office XML -------------------------------------------------------------------------------


def test_names_and_change_dates_go_and_every_other_byte_stays():
    """Whatever the prefix (here ``x`` and none), attributes naming a person are blanked
    and the dates of their changes removed; text that only looks like an attribute,
    comments and CDATA are not markup and stay as they are."""
    before = (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        f'<x:document xmlns:x="urn:w">  <x:p>'
        f"<x:ins x:id='1' x:author='{NAME}' x:date=\"2024-05-02T09:00:00Z\" x:dateUtc=\"2024\">"
        f'<x:t xml:space="preserve">author="{NAME}" &amp; Rahayu</x:t></x:ins>'
        f'<x:rPrChange x:id="2" x:author="{NAME}"\n  x:date="2024"><x:rPr /></x:rPrChange>'
        f'<!-- author="{NAME}" --><![CDATA[<a author="{NAME}"/>]]>'
        f'<comment author="{NAME}" initials="SR" date="2024"/>'
        f'<x:p x:date="2024-05-02">{NAME} menulis</x:p>'
        "</x:p></x:document>"
    )
    after, found = officescrub.scrub_xml(before.encode())
    assert after.decode() == (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        f'<x:document xmlns:x="urn:w">  <x:p>'
        "<x:ins x:id='1' x:author=''>"
        f'<x:t xml:space="preserve">author="{NAME}" &amp; Rahayu</x:t></x:ins>'
        '<x:rPrChange x:id="2" x:author=""><x:rPr /></x:rPrChange>'
        f'<!-- author="{NAME}" --><![CDATA[<a author="{NAME}"/>]]>'
        '<comment author="" initials=""/>'
        f'<x:p x:date="2024-05-02">{NAME} menulis</x:p>'
        "</x:p></x:document>"
    )
    assert found == {Removed.AUTHOR, Removed.DATES}
    unchanged = (
        f"<w:document {W}><w:body><w:p><w:r><w:t>Isi</w:t></w:r></w:p></w:body></w:document>"
    )
    assert officescrub.scrub_xml(unchanged.encode()) == (unchanged.encode(), set())


def test_variables_saved_paths_reservations_and_people_are_removed():
    settings = (
        f'<w:settings {W}><w:zoom w:percent="100"/><w:docVars><w:docVar w:name="a" '
        f'w:val="{NAME}"/></w:docVars><w:defaultTabStop w:val="720"/></w:settings>'
    )
    workbook = (
        '<workbook xmlns="urn:x" xmlns:mc="urn:mc"><fileVersion appName="xl"/>'
        f'<fileSharing readOnlyRecommended="1" userName="{NAME}"/>'
        '<mc:AlternateContent xmlns:mc="urn:mc"><mc:Choice Requires="x15">'
        f'<x15ac:absPath url="C:\\Users\\{NAME}\\" xmlns:x15ac="urn:ac"/></mc:Choice>'
        "</mc:AlternateContent><sheets/></workbook>"
    )
    people = (
        '<w15:people xmlns:w15="urn:w15"><w15:person w15:author="SR">'
        f'<w15:presenceInfo w15:providerId="AD" w15:userId="{NAME}"/></w15:person></w15:people>'
    )
    assert officescrub.scrub_xml(settings.encode()) == (
        f'<w:settings {W}><w:zoom w:percent="100"/><w:defaultTabStop w:val="720"/>'
        "</w:settings>".encode(),
        {Removed.OTHER},
    )
    assert officescrub.scrub_xml(workbook.encode()) == (
        b'<workbook xmlns="urn:x" xmlns:mc="urn:mc"><fileVersion appName="xl"/><sheets/>'
        b"</workbook>",
        {Removed.AUTHOR},
    )
    assert (
        officescrub.scrub_xml(people.encode())[0]
        == b'<w15:people xmlns:w15="urn:w15"></w15:people>'
    )


def test_the_printer_libreoffice_saved_in_the_settings_is_emptied():
    """A printer's name ("HP LaserJet Ruang Inspektur", or a person's) and its setup,
    the name again in base64, as LibreOffice writes them in an ODF's settings.xml."""
    setup = base64.b64encode(f"HP_LaserJet_{NAME}\0driver".encode()).decode()
    settings = (
        '<office:document-settings xmlns:office="urn:o" xmlns:config="urn:c">'
        '<config:config-item-set config:name="ooo:configuration-settings">'
        f'<config:config-item config:name="PrinterName" config:type="string">HP {NAME}'
        "</config:config-item>"
        f'<config:config-item config:name="PrinterSetup" config:type="base64Binary">{setup}'
        "</config:config-item>"
        '<config:config-item config:name="PrintTables" config:type="boolean">true'
        "</config:config-item></config:config-item-set></office:document-settings>"
    )
    assert officescrub.scrub_xml(settings.encode()) == (
        settings.replace(f"HP {NAME}", "").replace(setup, "").encode(),
        {Removed.OTHER},
    )
    empty = settings.replace(f"HP {NAME}", "").replace(setup, "").encode()
    assert officescrub.scrub_xml(empty) == (empty, set())


def test_the_authors_and_dates_of_odf_changes_and_comments_are_blanked():
    """dc:creator anywhere loses its text, and the dc:date of a change or comment becomes
    a neutral one (a change's date is required: LibreOffice misplaces a deletion whose
    date is empty); a date field inside the comment's own text is the comment, and stays."""
    content = (
        '<office:text xmlns:office="urn:o" xmlns:dc="urn:dc" xmlns:text="urn:t">'
        f"<office:change-info><dc:creator>{NAME}</dc:creator><dc:date>2024-05-02</dc:date>"
        "</office:change-info><text:p>Isi<office:annotation>"
        f"<dc:creator>{NAME}</dc:creator><dc:date>2024-05-02T09:00:00</dc:date>"
        "<meta:creator-initials>SR</meta:creator-initials>"
        '<text:p>cek <text:date text:date-value="2024-05-01">1 Mei</text:date></text:p>'
        "</office:annotation></text:p></office:text>"
    )
    after, found = officescrub.scrub_xml(content.encode("utf-16"))
    assert after.decode("utf-16") == (
        '<office:text xmlns:office="urn:o" xmlns:dc="urn:dc" xmlns:text="urn:t">'
        "<office:change-info><dc:creator></dc:creator><dc:date>1970-01-01T00:00:00</dc:date>"
        "</office:change-info><text:p>Isi<office:annotation>"
        "<dc:creator></dc:creator><dc:date>1970-01-01T00:00:00</dc:date>"
        "<meta:creator-initials></meta:creator-initials>"
        '<text:p>cek <text:date text:date-value="2024-05-01">1 Mei</text:date></text:p>'
        "</office:annotation></text:p></office:text>"
    )
    assert found == {Removed.AUTHOR, Removed.DATES}


def archive(members: list[tuple[str, str | bytes, int]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as made:
        for name, data, compression in members:
            info = zipfile.ZipInfo(name, date_time=(2024, 5, 2, 9, 0, 0))
            made.writestr(info, data, compress_type=compression)
    return out.getvalue()


def test_the_archive_keeps_its_order_compression_and_the_odf_mimetype_first(tmp_path):
    png = io.BytesIO()
    Image.new("RGB", (2, 1)).save(png, "PNG")  # a picture with nothing to remove
    source = tmp_path / "in.odt"
    source.write_bytes(
        archive(
            [
                ("styles.xml", '<s xmlns:dc="urn:dc"><dc:creator>X</dc:creator></s>', 8),
                # Out of place and compressed: written first and stored (ODF 1.3 part 2, 3.3).
                ("mimetype", "application/vnd.oasis.opendocument.text", zipfile.ZIP_DEFLATED),
                ("Pictures/a.png", png.getvalue(), zipfile.ZIP_STORED),
                ("content.xml", "<c/>", zipfile.ZIP_DEFLATED),
            ]
        )
    )
    found = officeclean.clean_package(str(source), str(tmp_path / "out.odt"), budget=1 << 20)
    assert found.removed == {Removed.AUTHOR}
    with zipfile.ZipFile(tmp_path / "out.odt") as result:
        infos = result.infolist()
        assert [i.filename for i in infos] == [
            "mimetype",
            "styles.xml",
            "Pictures/a.png",
            "content.xml",
        ]
        assert [i.compress_type for i in infos] == [0, 8, 0, 8]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert result.read("styles.xml") == b'<s xmlns:dc="urn:dc"><dc:creator></dc:creator></s>'
        assert result.read("Pictures/a.png") == png.getvalue()  # byte for byte
    again = officeclean.clean_package(str(tmp_path / "out.odt"), str(tmp_path / "again"), 1 << 20)
    assert again.removed == set()


def test_a_name_left_in_any_xml_member_is_told_as_remaining(tmp_path):
    """The last look reads every XML member with a parser of its own: what the scrub
    did not blank (here, an archive it never saw) is reported, with its value."""
    path = tmp_path / "left.docx"
    path.write_bytes(
        archive(
            [
                ("word/footnotes.xml", f'<w:f {W}><w:del w:author="{NAME}"/></w:f>', 8),
                (
                    "word/settings.xml",
                    f'<w:s {W}><w:docVars><w:docVar w:val="Bu Siti"/></w:docVars></w:s>',
                    8,
                ),
                ("content.xml", f'<o xmlns:dc="urn:dc"><dc:creator> {NAME} </dc:creator></o>', 8),
                ("xl/drawings/vmlDrawing1.vml", f'<xml><br><v:shape o:author="{NAME}"></xml>', 8),
            ]
        )
    )
    assert officescrub.leftovers(str(path)) == [
        ("author", NAME),
        ("author", "Bu Siti"),
    ]
    cleaning = docclean._Cleaning(Kind.DOCX, str(tmp_path), LIMITS)
    report = cleaning.report([], officescrub.leftovers(str(path)))
    assert '"remaining": [["author", "Siti Rahayu Pelapor"], ["author", "Bu Siti"]]' in report
    # docclean.clean (the server's side) reads the report into the notice's Remaining:
    assert Remaining("author", NAME) in tuple(
        Remaining(str(f), str(v)) for f, v in json.loads(report)["remaining"]
    )


FLAT_TEXT = (
    FLAT_HEAD.format(kind="text") + "<office:body><office:text>"
    '<text:tracked-changes text:track-changes="true"><text:changed-region text:id="c1">'
    f"<text:format-change><office:change-info><dc:creator>{NAME}</dc:creator>"
    "<dc:date>2024-05-02T09:00:00</dc:date></office:change-info></text:format-change>"
    "</text:changed-region></text:tracked-changes>"
    '<text:p><text:change-start text:change-id="c1"/>Laporan dana desa'
    '<text:change-end text:change-id="c1"/></text:p></office:text></office:body></office:document>'
)


def converted(tmp_path: Path, conversion: str, source: Path) -> Path:
    soffice(tmp_path, conversion, [source], tmp_path, timeout=90)
    return tmp_path / (source.stem + "." + conversion.split(":")[0])


def test_a_word_document_with_tracked_formatting_still_opens_without_its_author(tmp_path):
    """LibreOffice writes a tracked formatting change as w:rPrChange with the author: the
    clean copy names no one, and LibreOffice still opens it with its text."""
    flat = tmp_path / "laporan.fodt"
    flat.write_text(FLAT_TEXT)
    original = converted(tmp_path, "docx:MS Word 2007 XML", flat).read_bytes()
    with zipfile.ZipFile(io.BytesIO(original)) as made:
        assert NAME.encode() in made.read("word/document.xml")

    cleaned, out = clean(original, Kind.DOCX)

    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as result:
        assert not any(NAME.encode() in result.read(n) for n in result.namelist())
    assert {Removed.AUTHOR, Removed.DATES} <= cleaned.removed and cleaned.remaining == ()
    (tmp_path / "bersih.docx").write_bytes(out.getvalue())
    pdf = converted(tmp_path, "pdf", tmp_path / "bersih.docx")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Laporan dana desa" in text


# --- pictures inside PDFs ---------------------------------------------------------------------

XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")


def picture() -> Image.Image:
    return Image.frombytes("RGB", (64, 48), bytes(range(256)) * 36)


def test_a_jpeg2000_keeps_its_picture_and_loses_its_xmp_and_comments():
    made = io.BytesIO()
    picture().save(made, "JPEG2000", comment=NAME.encode())
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>{NAME}</dc:creator></x:xmpmeta>'
    data = (
        made.getvalue() + struct.pack(">I4s", 8 + 16 + len(xmp), b"uuid") + XMP_UUID + xmp.encode()
    )
    data += struct.pack(">I4s", 8 + len(xmp), b"xml ") + xmp.encode()

    stripped, dropped = picturescrub.strip_jpx(data)

    assert dropped and NAME.encode() not in stripped
    assert Image.open(io.BytesIO(stripped)).tobytes() == Image.open(io.BytesIO(data)).tobytes()
    assert picturescrub.strip_jpx(stripped) == (stripped, False)


def test_a_raw_codestream_loses_the_comments_of_its_tiles_and_keeps_its_lengths():
    made = io.BytesIO()
    picture().save(made, "JPEG2000", no_jp2=True, tile_size=(32, 32), comment=b"main")
    data = made.getvalue()
    sot = data.index(b"\xff\x90")  # the first tile-part: a comment inside its header
    (psot,) = struct.unpack_from(">I", data, sot + 6)
    comment = b"\xff\x64" + struct.pack(">HH", 4 + len(NAME), 1) + NAME.encode()
    tile = data[sot : sot + 12] + comment + data[sot + 12 : sot + psot]
    tile = tile[:6] + struct.pack(">I", psot + len(comment)) + tile[10:]
    data = data[:sot] + tile + data[sot + psot :]
    original = Image.open(io.BytesIO(made.getvalue())).tobytes()
    assert Image.open(io.BytesIO(data)).tobytes() == original  # a valid codestream

    stripped, dropped = picturescrub.strip_jpx(data + b"appended")

    assert dropped and NAME.encode() not in stripped and b"main" not in stripped
    assert Image.open(io.BytesIO(stripped)).tobytes() == original
    for broken in (b"\xff\x4f\xff\x51\x00", b"\x00\x00\x00\x0cjP  \r\n\x87\n\x00\x00\x00\x30jp2c"):
        with pytest.raises(ValueError):
            picturescrub.strip_jpx(broken)


def test_the_pictures_of_a_pdf_keep_nothing_of_their_author(tmp_path):
    """Through the whole child: a JPEG 2000 with XMP, and a JPEG followed by a second
    JPEG with EXIF (a phone's motion photo), drawn on a page; the clean PDF holds
    neither's metadata, and the reporter is told an author and a place were removed."""
    import pikepdf

    from tests.helpers import jpeg_with_exif

    jpx = io.BytesIO()
    picture().save(jpx, "JPEG2000")
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF'
        ' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator><rdf:Seq>'
        f"<rdf:li>{NAME}</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    jp2 = jpx.getvalue() + struct.pack(">I4s", 24 + len(xmp), b"uuid") + XMP_UUID + xmp.encode()
    photo = jpeg_with_exif("x") + jpeg_with_exif(NAME)
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(300, 200))
    images = {}
    for name, data, filter_name in (("/Im0", jp2, "/JPXDecode"), ("/Im1", photo, "/DCTDecode")):
        image = pikepdf.Stream(pdf, data)
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height, image.BitsPerComponent = 64, 48, 8
        image.ColorSpace, image.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name(filter_name)
        images[name] = image
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(images))
    page.Contents = pdf.make_stream(
        b"q 64 0 0 48 10 10 cm /Im0 Do Q q 64 0 0 48 90 10 cm /Im1 Do Q"
    )
    made = io.BytesIO()
    pdf.save(made)

    cleaned, out = clean(made.getvalue(), Kind.PDF)

    with pikepdf.open(io.BytesIO(out.getvalue())) as result:
        streams = [o.read_raw_bytes() for o in result.objects if isinstance(o, pikepdf.Stream)]
    assert not any(NAME.encode() in raw for raw in streams)
    assert sum(raw.startswith(b"\xff\xd8") for raw in streams) == 1  # the JPEG, alone
    assert {Removed.AUTHOR, Removed.GPS} <= cleaned.removed


# --- MP3 --------------------------------------------------------------------------------------


def test_an_mp3_keeps_its_sound_and_loses_its_id3_ape_and_id3v1_tags(tmp_path):
    path = tmp_path / "a.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "libmp3lame",
         "-metadata", f"artist={NAME}", "-write_id3v1", "1", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    item = NAME.encode()
    body = len(item).to_bytes(4, "little") + bytes(4) + b"Artist\0" + item
    footer = b"APETAGEX" + struct.pack("<IIII", 2000, len(body) + 32, 1, 0) + bytes(8)
    original = path.read_bytes() + body + footer
    assert original.startswith(b"ID3")

    cleaned, out = clean(original, Kind.MP3)

    data = out.getvalue()
    assert item not in data and b"APETAGEX" not in data and not data.startswith(b"ID3")
    assert data[-128:-125] != b"TAG"
    assert Removed.AUTHOR in cleaned.removed and cleaned.remaining == ()
    (tmp_path / "b.mp3").write_bytes(data)
    duration = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(tmp_path / "b.mp3")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert float(duration) == pytest.approx(1.0, abs=0.1)


# --- a user's folder in links and references (fresh review of issue 21) ----------------------


@pytest.fixture(scope="module")
def linked_documents(tmp_path_factory) -> dict[str, bytes]:
    """A letter with a picture linked from the writer's Documents folder and a sheet
    with a cell taken from another of their workbooks, as LibreOffice saves them in ODF
    and OOXML."""
    from tests.test_review_fresh21 import _EXTERNAL_CELL, _LINKED_PICTURE, _XLINK

    folder = tmp_path_factory.mktemp("linked")
    head = FLAT_HEAD.replace('office:version="1.3"', _XLINK)
    (folder / "t.fodt").write_text(
        head.format(kind="text") + _LINKED_PICTURE + "</office:document>"
    )
    (folder / "s.fods").write_text(
        head.format(kind="spreadsheet") + _EXTERNAL_CELL + "</office:document>"
    )
    soffice(folder, "odt", [folder / "t.fodt"], folder)
    soffice(folder, "docx:MS Word 2007 XML", [folder / "t.fodt"], folder)
    soffice(folder, "ods", [folder / "s.fods"], folder)
    soffice(folder, "xlsx:Calc MS Excel 2007 XML", [folder / "s.fods"], folder)
    return {name: (folder / name).read_bytes() for name in ("t.odt", "t.docx", "s.ods", "s.xlsx")}


@pytest.mark.parametrize("name", ["t.odt", "t.docx", "s.xlsx"])
def test_a_link_into_a_users_folder_points_to_the_file_name_only(linked_documents, name):
    """A linked picture (ODF xlink:href, an OOXML relationship's Target) and an external
    workbook's path (its relationship) keep C:/Users/NAME: the link keeps the file's
    name only, the folder (the person's account) is removed and said so."""
    from tests.test_review_fresh21 import USER

    data = linked_documents[name]
    assert any(USER.encode() in content for content in members(data).values())
    cleaned, out = clean(data, Kind(name.rpartition(".")[2]))
    assert Removed.AUTHOR in cleaned.removed and cleaned.remaining == ()
    assert not any(USER.encode() in content for content in members(out.getvalue()).values())


def test_a_formula_into_a_users_folder_is_told_as_left(linked_documents):
    """A formula's reference to another workbook is the sheet's content (cleaning may
    not change it): the folder it names is told to the reporter as still there."""
    from tests.test_review_fresh21 import USER

    cleaned, _out = clean(linked_documents["s.ods"], Kind.ODS)
    assert Remaining("folder", f"C:/Users/{USER}") in cleaned.remaining


def test_user_folders_are_found_in_paths_and_file_addresses_not_in_web_addresses():
    assert officescrub.user_folders(
        b"<r Target='file:///C:/Users/Siti%20R/Documents/a.jpg'/><p>C:\\Users\\Budi\\x</p>"
        b"<a href='file:///home/ani/a.ods'/><a href='file:///Users/joko/b'/>"
    ) == ["C:/Users/Siti R", "C:\\Users\\Budi", "/home/ani", "/Users/joko"]
    assert officescrub.user_folders(b"<a href='https://example.go.id/home/berita'/>") == []


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return {info.filename: package.read(info) for info in package.infolist()}


_HYPERLINKED = (
    "<office:body><office:text><text:p>Anggaran fiktif <text:a xlink:type='simple'"
    " xlink:href='{base}/Documents/bukti-transfer.pdf'>bukti</text:a></text:p>"
    "</office:text></office:body>"
)
_HOMES = {
    "linux": "file:///home/budisantoso",
    "macos": "file:///Users/budisantoso",
    "windows": "file:///C:/Users/budisantoso",
}


@pytest.fixture(scope="module")
def hyperlinked_documents(tmp_path_factory) -> dict[str, bytes]:
    """A letter whose hyperlink leads to a file in the writer's home folder on Linux,
    macOS or Windows, saved by LibreOffice as ODT and DOCX: LibreOffice writes the link
    relative to the document (``../../home/budisantoso/Documents/…``)."""
    from tests.test_review_fresh21 import _XLINK

    folder = tmp_path_factory.mktemp("hyperlinked")
    head = FLAT_HEAD.replace('office:version="1.3"', _XLINK)
    sources = []
    for system, base in _HOMES.items():
        sources.append(folder / f"{system}.fodt")
        sources[-1].write_text(
            head.format(kind="text") + _HYPERLINKED.format(base=base) + "</office:document>"
        )
    soffice(folder, "odt", sources, folder)
    soffice(folder, "docx:MS Word 2007 XML", sources, folder)
    return {path.name: path.read_bytes() for path in folder.glob("*.*") if path.suffix != ".fodt"}


@pytest.mark.parametrize("system", sorted(_HOMES))
@pytest.mark.parametrize("kind", [Kind.ODT, Kind.DOCX])
def test_a_hyperlink_into_a_home_folder_on_any_system_points_to_the_file_name_only(
    hyperlinked_documents, system, kind
):
    """Fresh review of issue 21: a hyperlink into /home/NAME or /Users/NAME stayed in a
    file told as cleaned, because LibreOffice saves it as ../../home/NAME/…."""
    data = hyperlinked_documents[f"{system}.{kind.value}"]
    assert any(b"budisantoso" in content for content in members(data).values())
    cleaned, out = clean(data, kind)
    assert Removed.AUTHOR in cleaned.removed and cleaned.remaining == ()
    assert not any(b"budisantoso" in content for content in members(out.getvalue()).values())
    assert any(b"bukti-transfer.pdf" in content for content in members(out.getvalue()).values())


def test_user_folders_in_relative_unc_and_bare_paths_are_found():
    assert officescrub.user_folders(
        b"<a href='../../home/ani/a.pdf'/><r Target=\"../../../Users/joko/b\"/>"
        b"<r Target='../../C:/Users/eko/c'/><a href='/home/dewi/d'/>"
        b"<a href='\\\\arsip\\Users\\rina\\e'/>"
    ) == ["/home/ani", "/Users/joko", "C:/Users/eko", "/home/dewi", "\\\\arsip\\Users\\rina"]
    assert (
        officescrub.user_folders(
            b"<a href='../home/index.html'/><a href='/home/about'/><p>see /home/x/y</p>"
        )
        == []
    )
