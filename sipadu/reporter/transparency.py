"""The public transparency report on the reporter portal (issue 19, item 3;
docs/transparency.md): the published months, each month's report as a page in the
reader's language, and its signed JSON document exactly as published. Read only; no
script; counts only, small ones hidden (no median: sipadu.services.transparency)."""

import hashlib
import json
from datetime import date

from babel.dates import format_date
from babel.numbers import format_decimal
from flask import Response, abort, render_template

from sipadu.reporter.blueprint import bp
from sipadu.services.transparency import (
    COLUMNS,
    MONTH,
    published_document,
    published_months,
)
from sipadu.web.context import transaction
from sipadu.web.i18n import current_language
from sipadu.web.words import INDICATOR_LABELS


def month_words(month: str) -> str:
    """``"2026-11"`` as the reader writes it: "November 2026"."""
    year, number = month.split("-")
    return format_date(date(int(year), int(number), 1), format="MMMM y", locale=current_language())


def _document(month: str) -> bytes:
    if not MONTH.fullmatch(month):
        abort(404)
    with transaction() as session:
        document = published_document(session, month)
    if document is None:
        abort(404)
    return document


@bp.get("/transparansi")
def transparency_index() -> str:
    with transaction() as session:
        months = published_months(session)
    return render_template(
        "reporter/transparency_index.html", months=[(m, month_words(m)) for m in months]
    )


@bp.get("/transparansi/<month>.json")
def transparency_json(month: str) -> Response:
    """The signed document, byte for byte as published."""
    response = Response(_document(month), mimetype="application/json")
    response.headers["Content-Disposition"] = f'inline; filename="transparansi-{month}.json"'
    return response


def _cell(value: int | None) -> str | None:
    return None if value is None else format_decimal(value, locale=current_language())


@bp.get("/transparansi/<month>")
def transparency_month(month: str) -> str:
    document = _document(month)
    body = json.loads(document)
    language = current_language()
    heads = [row["label"][language] or row["label"]["id"] for row in body["categories"]]
    rows = [*body["categories"], body["total"]]
    table = [
        (INDICATOR_LABELS[column], [_cell(row["figures"][column]) for row in rows])
        for column in COLUMNS
    ]
    return render_template(
        "reporter/transparency.html",
        month=month,
        month_said=month_words(month),
        generated_on=date.fromisoformat(body["generated_on"]),
        threshold=body["threshold"],
        heads=heads,
        table=table,
        sha256=hashlib.sha256(document).hexdigest(),
        checkpoint=body["checkpoint"],
    )
