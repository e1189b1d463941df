"""Language: Bahasa Indonesia first, English on request.

The language is chosen by a ``lang`` query parameter that every generated URL carries
on, never by a cookie (the reporter's only cookie holds random values) and never by
``Accept-Language`` (Tor Browser reports ``en-US`` for everyone, and the header is
dropped before the reporter app sees it). Default: ``id``.
"""

from datetime import date

from babel.dates import format_date
from babel.numbers import format_decimal
from flask import Flask, request
from flask_babel import Babel, gettext

from sipadu.settings.config import DatePrecision
from sipadu.web.context import app_config
from sipadu.web.language_switch import reposted, reposted_fields

LANGUAGES = {"id": "Bahasa Indonesia", "en": "English"}
DEFAULT = "id"


def current_language() -> str:
    lang = request.args.get("lang", DEFAULT)
    return lang if lang in LANGUAGES else DEFAULT


def _keep_language(endpoint: str, values: dict) -> None:
    lang = current_language()
    if lang != DEFAULT and "lang" not in values and endpoint != "static":
        values["lang"] = lang


def localized(path: str) -> str:
    """A same-site path that keeps the current language (for links built without
    ``url_for``)."""
    lang = current_language()
    return path if lang == DEFAULT else f"{path}?lang={lang}"


def filesize(size: int) -> str:
    """A file size in the reader's number format: "1,2 MB" or "1.2 MB"."""
    lang = current_language()
    if size < 1000:
        return f"{size} B"
    if size >= 100_000:
        return format_decimal(size / 1_000_000, format="#,##0.0", locale=lang) + " MB"
    return format_decimal(size / 1000, format="#,##0.#", locale=lang) + " kB"


def long_date(day: date) -> str:
    """A date as a reader writes it: "7 Desember 2026", "December 7, 2026"."""
    return format_date(day, format="long", locale=current_language())


def period_date(day: date) -> str:
    """A reporter-side date as stored, coarsened to the instance's precision (G2;
    ``SIPADU_DATE_PRECISION``): "7 Desember 2026" for a day, "minggu mulai 7 Desember 2026"
    ("week of December 7, 2026") for a week, "Desember 2026" for a month; never the
    period's first day shown as if it were the day itself."""
    precision = app_config().date_precision
    if precision is DatePrecision.MONTH:
        return format_date(day, format="MMMM y", locale=current_language())
    if precision is DatePrecision.WEEK:
        return gettext("week of %(monday)s", monday=long_date(day))
    return long_date(day)


def init_i18n(app: Flask) -> None:
    Babel(app, locale_selector=current_language, default_translation_directories="translations")
    app.url_defaults(_keep_language)
    app.jinja_env.filters["filesize"] = filesize
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.filters["period_date"] = period_date
    app.jinja_env.globals.update(
        languages=LANGUAGES,
        current_language=current_language,
        localized=localized,
        reposted=reposted,
        reposted_fields=reposted_fields,
    )
