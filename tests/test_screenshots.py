"""`make screenshots` (tools/screenshots.py): the machinery that refreshes docs/screenshots/
works, and the README shows screenshots that exist (issue 16 item 9); staff pages too
(issue 17 item 9)."""

import re
from pathlib import Path

from PIL import Image

from tools import screenshots

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "screenshots"


def test_one_screenshot_of_each_journey_is_small_and_named_for_its_place(tmp_path):
    """The mailbox page needs everything before it (report, code, an investigator's
    answer through the staff portal, sign-in): one shot walks the whole journey. The
    staff's report page needs a worked report and a signed-in investigator (the staff
    portal served as well)."""
    written = screenshots.take(
        tmp_path, languages=["id"], sizes=["phone"], pages=["mailbox"], staff_pages=["case"]
    )
    assert written == [
        tmp_path / "id-phone-06-mailbox.png",
        tmp_path / "id-phone-staff-03-case.png",
    ]
    assert sorted(tmp_path.iterdir()) == sorted(written)  # nothing else left behind
    for path in written:
        size = path.stat().st_size
        print(f"{path.stem.replace('-', '_')}_kb={size / 1000:.0f}")
        assert size < screenshots.MAX_BYTES
        with Image.open(path) as image:
            assert image.format == "PNG" and image.mode == "P"  # palette: small
            assert image.width == 390 and image.height > 844  # the whole page, not the screen


def test_each_page_size_and_language_has_a_stable_file_name():
    names = {
        screenshots.file_name(lang, size, page)
        for lang in screenshots.LANGUAGES
        for size in screenshots.SIZES
        for page in screenshots.PAGES
    }
    assert len(names) == 2 * 2 * len(screenshots.PAGES)
    assert "id-desktop-01-landing.png" in names and "en-phone-06-mailbox.png" in names
    assert screenshots.SIZES["desktop"].width == 1280 and screenshots.SIZES["phone"].width == 390
    staff = {
        screenshots.staff_file_name(size, page)
        for size in screenshots.SIZES
        for page in screenshots.STAFF_PAGES
    }
    assert len(staff) == 2 * 10 and not staff & names
    assert "id-desktop-staff-01-dashboard.png" in staff
    assert "id-phone-staff-07-audit-log.png" in staff


def test_make_screenshots_refreshes_docs_screenshots():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^screenshots:(.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe and "programs" in recipe.group(1)  # Debian's chromium
    assert "$(BIN)/python tools/screenshots.py docs/screenshots" in recipe.group(2)
    assert screenshots.OUT == SHOTS


def test_the_readme_shows_two_committed_screenshots_each_small():
    readme = (ROOT / "README.md").read_text()
    top = readme.split("## Two commands", 1)[0]
    shown = re.findall(r'src="(docs/screenshots/[^"]+\.png)"', top)
    assert len(shown) == 2
    for path in shown:
        assert (ROOT / path).is_file(), path
    committed = sorted(SHOTS.glob("*.png"))
    staff = len(screenshots.SIZES) * len(screenshots.STAFF_PAGES)
    assert len(committed) == 2 * 2 * len(screenshots.PAGES) + len(screenshots.FIRST_SCREENS) + staff
    assert all(path.stat().st_size < screenshots.MAX_BYTES for path in committed)
