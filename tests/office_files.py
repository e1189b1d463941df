"""Office files for tests and benchmarks: flat OpenDocument files (the whole document
in one XML file, ``<office:document>``, ODF 1.3 part 3, 3.1.2) and LibreOffice's
conversions of them into DOCX, XLSX, PPTX, ODT, ODS, ODP, PDF or text."""

import subprocess
from pathlib import Path

# The start of a flat OpenDocument file of ``{kind}`` ("text", "spreadsheet",
# "presentation"), with every namespace the tests' documents use; then its
# ``<office:meta>`` and ``<office:body>``, and ``</office:document>``.
FLAT_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><office:document'
    ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
    ' xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"'
    ' xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0"'
    ' xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"'
    ' xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"'
    ' xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2"'
    ' xmlns:dc="http://purl.org/dc/elements/1.1/" office:version="1.3"'
    ' office:mimetype="application/vnd.oasis.opendocument.{kind}">'
)


def soffice(
    folder: Path, conversion: str, sources: list[Path], outdir: Path, timeout: int = 120
) -> None:
    """Convert ``sources`` with headless LibreOffice (one start for all) into ``outdir``,
    each named as its source with the extension of ``conversion`` (a LibreOffice
    ``--convert-to`` target, e.g. ``"docx:MS Word 2007 XML"``). The profile lives in
    ``folder``. Raises ``subprocess.CalledProcessError`` or ``TimeoutExpired``
    (``timeout`` seconds)."""
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{folder / 'profile'}", "--headless",
         "--convert-to", conversion, "--outdir", str(outdir), *map(str, sources)],
        capture_output=True, check=True, timeout=timeout,
    )  # fmt: skip


def from_flat(folder: Path, name: str, kind: str, inner: str, conversion: str) -> bytes:
    """LibreOffice's conversion (``conversion``, as for :func:`soffice`) of the flat
    OpenDocument file ``name`` of ``kind`` whose ``inner`` (its meta and body) follows
    :data:`FLAT_HEAD`; the flat file and the result are kept in ``folder``."""
    extension = {"text": "fodt", "spreadsheet": "fods", "presentation": "fodp"}[kind]
    flat = folder / f"{name}.{extension}"
    flat.write_text(FLAT_HEAD.format(kind=kind) + inner + "</office:document>")
    soffice(folder, conversion, [flat], folder)
    return (folder / f"{name}.{conversion.partition(':')[0]}").read_bytes()
