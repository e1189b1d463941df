"""Issue 21 point 1: cleaning an office or ODF file removes its metadata and nothing it
says (a reporter's words are never lost while they are told the file was "cleaned").

mat2 0.13.3's rewrite lost every XLSX's workbook relationships (an empty workbook), every
PPTX's presentation relationships, a DOCX's comments (which LibreOffice then cannot
load), moved a tracked insertion to the end of its paragraph and tables after the last
paragraph, and broke Calc formulas (sipadu.evidence.officeclean's docstring). Real files
made by LibreOffice from flat ODF (comments, tracked insertions, deletions and format
changes, a table, a photo carrying its author, several sheets of numbers, strings and a
formula, speaker notes) are cleaned by the confined child, then read back by LibreOffice:
the same text in the same order (flat ODF and PDF), and no author anywhere.
"""

import base64
import io
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from PIL import Image

from sipadu.evidence import cleaning, docclean, officeclean
from sipadu.evidence.cleaning import CleaningLimits
from sipadu.evidence.confinement import Confinement
from sipadu.evidence.outcome import Cleaned, KeptAsSent, KeptReason, Kind
from tests.office_files import FLAT_HEAD, soffice

NAME = "Budi Santoso Penulis"
LIMITS = Confinement(768 << 20, 20, 0)
TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
DC_NS = "http://purl.org/dc/elements/1.1/"
HEAD = (
    FLAT_HEAD + "<office:meta>"
    f"<meta:initial-creator>{NAME}</meta:initial-creator><dc:creator>{NAME}</dc:creator>"
    "</office:meta>"
)
STAMP = "2024-05-02T09:00:00"
INFO = f"<office:change-info><dc:creator>{NAME}</dc:creator><dc:date>{STAMP}</dc:date></office:change-info>"  # noqa: E501


def comment(text: str) -> str:
    return (
        f"<office:annotation><dc:creator>{NAME}</dc:creator><dc:date>{STAMP}</dc:date>"
        f"<text:p>{text}</text:p></office:annotation>"
    )


def photo() -> str:
    """A JPEG whose EXIF names its author, as flat ODF's base64 picture data."""
    exif = Image.Exif()
    exif[0x013B] = NAME  # Artist
    out = io.BytesIO()
    Image.frombytes("RGB", (32, 24), bytes(range(256)) * 9).save(out, "JPEG", exif=exif)
    return base64.b64encode(out.getvalue()).decode()


def text_document() -> str:
    return (
        HEAD.format(kind="text") + "<office:body><office:text>"
        '<text:tracked-changes text:track-changes="true">'
        f'<text:changed-region text:id="i1"><text:insertion>{INFO}</text:insertion>'
        "</text:changed-region>"
        f'<text:changed-region text:id="d1"><text:deletion>{INFO}'
        "<text:p>kata terhapus</text:p></text:deletion></text:changed-region>"
        f'<text:changed-region text:id="f1"><text:format-change>{INFO}</text:format-change>'
        "</text:changed-region></text:tracked-changes>"
        '<text:p>Awal paragraf <text:change-start text:change-id="i1"/>sisipan tengah'
        '<text:change-end text:change-id="i1"/> akhir paragraf.'
        '<text:change text:change-id="d1"/></text:p>'
        "<text:p>Kepala desa menerima uang" + comment("catatan komentar") + " lima juta.</text:p>"
        '<table:table table:name="T"><table:table-column table:number-columns-repeated="2"/>'
        '<table:table-row><table:table-cell office:value-type="string"><text:p>sel satu'
        '</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>'
        "sel dua</text:p></table:table-cell></table:table-row></table:table>"
        '<text:p><text:change-start text:change-id="f1"/>Paragraf setelah tabel.'
        '<text:change-end text:change-id="f1"/>'
        '<draw:frame draw:name="foto" svg:width="2cm" svg:height="1.5cm"'
        ' text:anchor-type="as-char"><draw:image><office:binary-data>'
        + photo()
        + "</office:binary-data></draw:image></draw:frame></text:p>"
        "</office:text></office:body></office:document>"
    )


def cell(value: str | float, note: str = "") -> str:
    if isinstance(value, str):
        return (
            f'<table:table-cell office:value-type="string">{note}<text:p>{value}</text:p>'
            "</table:table-cell>"
        )
    return (
        f'<table:table-cell office:value-type="float" office:value="{value}">{note}'
        f"<text:p>{value}</text:p></table:table-cell>"
    )


def row(*cells: str) -> str:
    return "<table:table-row>" + "".join(cells) + "</table:table-row>"


def spreadsheet() -> str:
    total = (
        '<table:table-cell table:formula="of:=SUM([.B2:.B3])" office:value-type="float"'
        ' office:value="1600000.5"><text:p>1600000.5</text:p></table:table-cell>'
    )
    return (
        HEAD.format(kind="spreadsheet") + "<office:body><office:spreadsheet>"
        '<table:table table:name="Anggaran">'
        + row(cell("Uraian"), cell("Jumlah"))
        + row(cell("Semen"), cell(1250000))
        + row(cell("Pasir", comment("komentar sel")), cell(350000.5))
        + row(cell("Total"), total)
        + '</table:table><table:table table:name="Penerima">'
        + row(cell("Pak Lurah"), cell(42))
        + row(cell("Bu Camat"), cell(7.25))
        + "</table:table></office:spreadsheet></office:body></office:document>"
    )


def frame(text: str, kind: str = "") -> str:
    return (
        f'<draw:frame {kind} svg:x="1cm" svg:y="1cm" svg:width="20cm" svg:height="3cm">'
        f"<draw:text-box><text:p>{text}</text:p></draw:text-box></draw:frame>"
    )


def presentation() -> str:
    notes = frame("catatan pembicara", 'presentation:class="notes"')
    return (
        HEAD.format(kind="presentation") + "<office:body><office:presentation>"
        f'<draw:page draw:name="p1">{frame("Slide satu")}'
        f"<presentation:notes>{notes}</presentation:notes></draw:page>"
        f'<draw:page draw:name="p2">{frame("Slide dua")}</draw:page>'
        "</office:presentation></office:body></office:document>"
    )


# target: (flat source, LibreOffice filter, kind, flat ODF to read it back as)
TARGETS = {
    "docx": ("text.fodt", "docx:MS Word 2007 XML", Kind.DOCX, "fodt"),
    "odt": ("text.fodt", "odt", Kind.ODT, "fodt"),
    "xlsx": ("sheet.fods", "xlsx:Calc MS Excel 2007 XML", Kind.XLSX, "fods"),
    "ods": ("sheet.fods", "ods", Kind.ODS, "fods"),
    "pptx": ("slides.fodp", "pptx:Impress MS PowerPoint 2007 XML", Kind.PPTX, "fodp"),
    "odp": ("slides.fodp", "odp", Kind.ODP, "fodp"),
}


def clean(data: bytes, kind: Kind) -> tuple[Cleaned, bytes]:
    out = io.BytesIO()
    limits = Confinement(
        LIMITS.memory_bytes, LIMITS.cpu_seconds, docclean.file_bytes_for(len(data))
    )
    return docclean.clean([data], kind, limits, out.write), out.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, dict]:
    """Each target as LibreOffice made it and as cleaned, each read back by LibreOffice
    as flat ODF and as PDF."""
    folder = tmp_path_factory.mktemp("integrity")
    for name, content in [
        ("text.fodt", text_document()),
        ("sheet.fods", spreadsheet()),
        ("slides.fodp", presentation()),
    ]:
        (folder / name).write_text(content)
    for flat, conversion, _, _ in TARGETS.values():
        soffice(folder, conversion, [folder / flat], folder)
    made: dict[str, dict] = {}
    for target, (flat, _, kind, _) in TARGETS.items():
        original = (folder / f"{Path(flat).stem}.{target}").read_bytes()
        cleaned, data = clean(original, kind)
        for state, body in (("original", original), ("clean", data)):
            (folder / state).mkdir(exist_ok=True)
            (folder / state / f"{target}.{target}").write_bytes(body)
        made[target] = {"original": original, "clean": data, "cleaned": cleaned}
    for state in ("original", "clean"):
        for back in ("fodt", "fods", "fodp"):
            sources = [folder / state / f"{t}.{t}" for t, v in TARGETS.items() if v[3] == back]
            soffice(folder, back, sources, folder / state / "flat")
        soffice(folder, "pdf", [folder / state / f"{t}.{t}" for t in TARGETS], folder / state)
    for target, (_, _, _, back) in TARGETS.items():
        for state in ("original", "clean"):
            made[target][state + "_flat"] = (
                folder / state / "flat" / f"{target}.{back}"
            ).read_bytes()
            pdf = folder / state / f"{target}.pdf"
            made[target][state + "_pdf"] = subprocess.run(
                ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
            ).stdout
    return made


def paragraphs(flat: bytes) -> list[str]:
    """Every paragraph and heading of a flat ODF file in document order (tracked
    deletions, comments and notes included), less the authors and dates of changes and
    comments, and pictures."""
    found = []

    def inner(element: ElementTree.Element) -> str:
        if element.tag.startswith(f"{{{DC_NS}}}") or element.tag.endswith("}binary-data"):
            return ""  # an author or date; a picture
        return (element.text or "") + "".join(inner(c) + (c.tail or "") for c in element)

    root = ElementTree.fromstring(flat)
    for element in root.iter():
        if element.tag in (f"{{{TEXT_NS}}}p", f"{{{TEXT_NS}}}h"):
            found.append(" ".join(inner(element).split()))
    return found


def members_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "".join(archive.read(n).decode("latin-1") for n in archive.namelist())


@pytest.mark.parametrize("target", list(TARGETS))
def test_the_clean_copy_says_what_the_original_said_and_names_no_one(files, target):
    made = files[target]
    assert NAME in members_text(made["original"])  # the author is there to be removed
    assert made["cleaned"].remaining == ()

    assert NAME not in members_text(made["clean"])
    assert NAME not in made["clean_flat"].decode()
    assert NAME not in made["clean_pdf"]
    before, after = paragraphs(made["original_flat"]), paragraphs(made["clean_flat"])
    assert after == before
    assert " ".join(made["clean_pdf"].split()) == " ".join(made["original_pdf"].split())


@pytest.mark.parametrize(
    "target, words",
    [
        ("docx", ["Awal paragraf sisipan tengah akhir paragraf.", "kata terhapus",
                  "catatan komentar", "sel satu", "Paragraf setelah tabel."]),
        ("odt", ["Awal paragraf sisipan tengah akhir paragraf.", "kata terhapus",
                 "catatan komentar", "sel satu", "Paragraf setelah tabel."]),
        ("xlsx", ["Penerima", "1600000.5", "komentar sel", "Bu Camat", "7.25"]),
        ("ods", ["Penerima", "1600000.5", "Bu Camat", "7.25"]),
        ("pptx", ["Slide dua", "catatan pembicara"]),
        ("odp", ["Slide dua", "catatan pembicara"]),
    ],
)  # fmt: skip
def test_comments_changes_sheets_formulas_and_notes_survive(files, target, words):
    """What the files hold (so the comparison above compares something): the tracked
    insertion in its place and the deletion still tracked, comments, the table, every
    sheet with its formula's result, the speaker notes."""
    flat = files[target]["clean_flat"].decode()
    said = " ".join(paragraphs(files[target]["clean_flat"]))
    for word in words:
        assert word in said or f'table:name="{word}"' in flat, word
    assert "Err:" not in flat
    if target not in ("pptx", "odp"):  # comments, without their author (LibreOffice
        assert "komentar" in members_text(files[target]["clean"])  # reads none of ODS's)
    if target in ("docx", "odt"):
        assert "<text:tracked-changes" in flat  # not accepted: kept, without its author
        order = [flat.find(w) for w in ("Awal paragraf", "sel satu", "Paragraf setelah")]
        assert order == sorted(order)  # the table stays between its paragraphs


@pytest.mark.parametrize("target", ["docx", "odt"])
def test_the_photo_stays_without_its_author(files, target):
    with zipfile.ZipFile(io.BytesIO(files[target]["clean"])) as archive:
        pictures = [n for n in archive.namelist() if n.lower().endswith((".jpg", ".jpeg"))]
        assert pictures
        with Image.open(io.BytesIO(archive.read(pictures[0]))) as picture:
            assert picture.size == (32, 24) and 0x013B not in picture.getexif()


def test_mat2s_rewrite_is_what_the_safety_net_catches(files, tmp_path):
    """The check compares members and their text in order: what mat2 did to each of
    these files (a lost part, a comment, an insertion moved) is told apart."""
    for target in ("docx", "xlsx", "pptx", "ods"):
        original = tmp_path / f"doc.{target}"
        original.write_bytes(files[target]["original"])
        subprocess.run(
            ["mat2", "--unknown-members", "omit", str(original)], capture_output=True, timeout=60
        )
        rewritten = tmp_path / f"doc.cleaned.{target}"
        assert officeclean.text_units(str(rewritten)) != officeclean.text_units(str(original))
        clean = tmp_path / f"clean.{target}"
        clean.write_bytes(files[target]["clean"])
        assert officeclean.text_units(str(clean)) == officeclean.text_units(str(original))


def test_a_file_whose_cleaning_would_lose_words_is_kept_as_sent(files):
    """Words inside what the cleaner removes (here Word's document variables) are lost
    by cleaning: the file is kept as sent, and said so, rather than "cleaned"."""
    source = io.BytesIO(files["docx"]["original"])
    out = io.BytesIO()
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(out, "w") as edited:
        for info in original.infolist():
            data = original.read(info)
            if info.filename == "word/settings.xml":
                data = data.replace(
                    b"</w:settings>",
                    b'<w:docVars><w:docVar w:name="a" w:val="b"/><w:t>kata penting</w:t>'
                    b"</w:docVars></w:settings>",
                )
            edited.writestr(info, data)
    data = out.getvalue()
    limits = CleaningLimits(image=LIMITS, document=Confinement(768 << 20, 20, 64 << 20))
    written: list[bytes] = []

    outcome = cleaning.clean([data], Kind.DOCX, 0, limits, written.append)

    assert isinstance(outcome, KeptAsSent) and outcome.why is KeptReason.WOULD_DAMAGE
    assert outcome.kind is Kind.DOCX  # naming the author it still holds, to be warned
    assert [r.field for r in outcome.remaining] == ["author"]


def test_a_pdf_keeps_its_text_through_mat2s_lightweight_mode(files, tmp_path):
    """mat2 -L redraws each page: the text Poppler reads is the same before and after."""
    source = tmp_path / "laporan.fodt"
    source.write_text(text_document())
    soffice(tmp_path, "pdf", [source], tmp_path)
    original = (tmp_path / "laporan.pdf").read_bytes()

    cleaned, data = clean(original, Kind.PDF)

    (tmp_path / "clean.pdf").write_bytes(data)
    read = [
        subprocess.run(["pdftotext", str(p), "-"], capture_output=True, text=True).stdout
        for p in (tmp_path / "laporan.pdf", tmp_path / "clean.pdf")
    ]
    assert " ".join(read[1].split()) == " ".join(read[0].split())
    assert "sel satu" in read[1] and cleaned.remaining == ()
