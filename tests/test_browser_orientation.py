"""The landing page on a phone, in a real browser with JavaScript off (issue 16 item 8):
both main actions, "Buat laporan" and "Buka kotak surat saya", are on the first screen
of a 390 x 844 viewport, in Bahasa Indonesia and English. Debian's Chromium driven by
Playwright against the reporter portal served in this process."""

import pytest

from sipadu.settings.config import load_config
from tests.chromium import chromium, reporter_in_process
from tests.helpers import init_demo

PHONE = {"width": 390, "height": 844}
ACTIONS = {
    "id": ("Buat laporan", "Buka kotak surat saya"),
    "en": ("Make a report", "Open my mailbox"),
}


@pytest.fixture(scope="module")
def portal(env):
    init_demo(env)
    with reporter_in_process(load_config(env)) as base:
        yield base


@pytest.mark.parametrize("lang", ["id", "en"])
def test_both_main_actions_are_on_a_phones_first_screen(portal, lang):
    with chromium() as browser:
        context = browser.new_context(
            java_script_enabled=False, viewport=PHONE, device_scale_factor=3, is_mobile=True
        )
        page = context.new_page()
        page.goto(f"{portal}/?lang={lang}")
        for label in ACTIONS[lang]:
            button = page.locator("a.button", has_text=label).first
            box = button.bounding_box()
            assert box is not None, label
            print(f"{lang} {label!r}: top {box['y']:.0f}, bottom {box['y'] + box['height']:.0f}")
            assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], label
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], label
            # it leads where it says
            assert button.get_attribute("href", timeout=1000).split("?")[0] in (
                "/report",
                "/mailbox/login",
            )
