"""Compliance statistics for auditors and custodians (issue 19, item 2): a year's
deadline compliance, outcomes, times taken, identity requests and intake channels, per
month, quarter or the year and per category, as tables in words, two charts (inline
SVG) and a CSV of the same figures. Each view and export is an audit entry naming the
period only. Figures come from :mod:`sipadu.services.statistics`: metadata, no content."""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from flask import Response, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from wtforms import IntegerField, SelectField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import NumberRange, Optional

from sipadu.accountability.audit import Actor
from sipadu.investigator.blueprint import bp, runtime
from sipadu.investigator.charts import Chart, stacked_bars
from sipadu.investigator.policy import Policy, requires
from sipadu.investigator.words import CHANNEL_LABELS, STATISTICS_KIND_WORDS
from sipadu.persistence.models import ReportStatus, Role
from sipadu.services.dates import today
from sipadu.services.plain_text import FORMULA_STARTS
from sipadu.services.statistics import (
    CHANNELS,
    Figures,
    Period,
    PeriodKind,
    YearStatistics,
    record_statistics,
    year_statistics,
)
from sipadu.web.context import content_disposition, transaction
from sipadu.web.forms import BoundedForm
from sipadu.web.words import STATUS_LABELS, category_label

FIRST_YEAR = 2000
LAST_YEAR = 9998  # a period of 9999 would end in the year 10000, past date.max


class StatisticsForm(BoundedForm):
    """GET choices of the page: no CSRF (nothing changes but the audit entry)."""

    class Meta:
        csrf = False

    kind = SelectField(
        _l("Per"),
        choices=[SelectChoice(k.value, STATISTICS_KIND_WORDS[k.value]) for k in PeriodKind],
        default=PeriodKind.MONTH.value,
    )
    year = IntegerField(_l("Year"), validators=[Optional(), NumberRange(FIRST_YEAR, LAST_YEAR)])
    part = IntegerField(_l("Categories of"), validators=[Optional(), NumberRange(0, 12)], default=0)


@dataclass(frozen=True)
class Column:
    words: str | LazyString
    value: Callable[[Figures], int | float | None]


def _counts(name: str) -> Callable[[Figures], int | float | None]:
    return lambda f: getattr(f.indicators, name)


def _asked(name: str) -> Callable[[Figures], int | float | None]:
    return lambda f: getattr(f.identity, name)


def _channel(name: str) -> Callable[[Figures], int | float | None]:
    return lambda f: (f.channels or {}).get(name)


# The tables, by theme: (id, heading, columns). The words of each status are the
# report list's (sipadu/web/words.py).
THEMES: list[tuple[str, LazyString, list[Column]]] = [
    (
        "ack",
        _l("Received and acknowledged"),
        [
            Column(_l("Received"), _counts("received")),
            Column(_l("Acknowledged on time"), _counts("ack_on_time")),
            Column(_l("Acknowledged late or overdue"), _counts("ack_late")),
            Column(_l("Not acknowledged yet, not overdue"), _counts("ack_pending")),
            Column(_l("Median days to acknowledge"), _counts("median_days_to_ack")),
        ],
    ),
    (
        "feedback",
        _l("Feedback to the reporter"),
        [
            Column(_l("First feedback on time"), _counts("feedback_on_time")),
            Column(_l("First feedback late or overdue"), _counts("feedback_late")),
            Column(_l("No feedback yet, not overdue"), _counts("feedback_pending")),
            Column(_l("Median days to first feedback"), _counts("median_days_to_feedback")),
        ],
    ),
    (
        "outcome",
        _l("Outcomes"),
        [
            Column(
                STATUS_LABELS[ReportStatus.CLOSED_SUBSTANTIATED.value],
                _counts("closed_substantiated"),
            ),
            Column(
                STATUS_LABELS[ReportStatus.CLOSED_UNSUBSTANTIATED.value],
                _counts("closed_unsubstantiated"),
            ),
            Column(_l("Referred to another body"), _counts("referred")),
            Column(STATUS_LABELS[ReportStatus.REJECTED.value], _counts("rejected")),
            Column(_l("Reopened at least once"), _counts("reopened")),
            Column(_l("Median days to close"), _counts("median_days_to_close")),
        ],
    ),
    (
        "identity",
        _l("Requests to see a reporter's identity"),
        [
            Column(_l("Requested"), _asked("requested")),
            Column(_l("Approved"), _asked("approved")),
            Column(_l("Refused"), _asked("refused")),
            Column(_l("Waiting for a custodian"), _asked("pending")),
        ],
    ),
]
CHANNEL_THEME = (
    "channel",
    _l("Received by channel"),
    [Column(CHANNEL_LABELS["web"], _channel("web"))]
    + [Column(CHANNEL_LABELS[c], _channel(c)) for c in CHANNELS],
)


@dataclass(frozen=True)
class Table:
    """A table as shown: its id, caption, column headings (the first: the rows') and
    rows of (heading, cells as text)."""

    id: str
    caption: str
    head: list[str]
    rows: list[tuple[str, list[str]]]


def _number(value: int | float | None) -> str:
    if value is None:
        return "\u2013"  # an en dash: no figure
    if isinstance(value, float):
        return format_decimal(value, format="#,##0.#")
    return format_decimal(value)


def period_words(period: Period, *, short: bool = False) -> str:
    """A period in the reader's words: "Maret 2025" / "Triwulan 1 2025" / "2025"."""
    if period.kind is PeriodKind.MONTH:
        return format_date(period.start, "LLL" if short else "LLLL y")
    if period.kind is PeriodKind.QUARTER:
        if short:
            return _("Q%(number)d", number=period.number)
        return _("Quarter %(number)d of %(year)d", number=period.number, year=period.year)
    return str(period.year)


def _tables(
    found: YearStatistics, part: int, number: Callable[[int | float | None], str]
) -> tuple[list[Table], list[Table]]:
    """The tables by period (each period, then the year) and by category (the
    categories of period ``part``, 0: the year, then all of them)."""
    period_rows = [
        (period_words(p), f) for p, f in zip(found.periods, found.by_period, strict=True)
    ]
    period_rows.append((_("Whole year"), found.total))
    whole = found.total if part == 0 else found.by_period[part - 1]
    category_rows = [(category_label(slug), f) for slug, f in found.by_category[part].items()]
    category_rows.sort(key=lambda row: row[0].casefold())
    category_rows.append((_("All categories"), whole))

    def table(prefix: str, theme: tuple, first: str, rows: list[tuple[str, Figures]]) -> Table:
        name, caption, columns = theme
        return Table(
            f"{prefix}-{name}",
            str(caption),
            [first, *(str(c.words) for c in columns)],
            [(label, [number(c.value(f)) for c in columns]) for label, f in rows],
        )

    by_period = [table("period", t, _("Period"), period_rows) for t in [*THEMES, CHANNEL_THEME]]
    by_category = [table("category", t, _("Category"), category_rows) for t in THEMES]
    return by_period, by_category


def _charts(found: YearStatistics) -> list[tuple[str, str, Chart]]:
    labels = [period_words(p, short=True) for p in found.periods]
    rows = [f.indicators for f in found.by_period]
    ack = stacked_bars(
        labels,
        [
            ("bar-ok", _("on time"), [i.ack_on_time for i in rows]),
            ("bar-late", _("late or overdue"), [i.ack_late for i in rows]),
            ("bar-open", _("not yet due"), [i.ack_pending for i in rows]),
        ],
    )
    feedback = stacked_bars(
        labels,
        [
            ("bar-ok", _("on time"), [i.feedback_on_time for i in rows]),
            ("bar-late", _("late or overdue"), [i.feedback_late for i in rows]),
            ("bar-open", _("not yet due"), [i.feedback_pending for i in rows]),
        ],
    )
    return [
        ("chart-ack", _("Acknowledgement of the reports received, per period"), ack),
        ("chart-feedback", _("First feedback on the reports received, per period"), feedback),
    ]


def _actor() -> Actor:
    """The role the viewer acts in: auditor if they are one, else custodian."""
    roles = g.staff.account.role_set
    role = Role.AUDITOR if Role.AUDITOR in roles else Role.CUSTODIAN
    return Actor(str(g.staff.account.id), role.value)


def _chosen(form: StatisticsForm) -> tuple[PeriodKind, int, int]:
    kind = PeriodKind(form.kind.data or PeriodKind.MONTH.value)
    year = form.year.data or today().year
    count = {PeriodKind.MONTH: 12, PeriodKind.QUARTER: 4, PeriodKind.YEAR: 1}[kind]
    part = form.part.data or 0
    return kind, year, part if part <= count and kind is not PeriodKind.YEAR else 0


def _figures(kind: PeriodKind, year: int, *, exported: bool) -> YearStatistics:
    with transaction(write=True) as writing:  # recorded before anything is shown
        found = year_statistics(writing, kind, year, today(), runtime().date_precision)
        record_statistics(
            writing, _actor(), kind, year, found.total.indicators.received, exported=exported
        )
    return found


@bp.get("/statistics")
@requires(Policy.STATISTICS)
def statistics_page() -> ResponseReturnValue:
    form = StatisticsForm(request.args)
    if not form.validate():
        return render_template("staff/statistics.html", form=form, found=None), 400
    kind, year, part = _chosen(form)
    form.kind.data, form.year.data, form.part.data = kind.value, year, part
    found = _figures(kind, year, exported=False)
    by_period, by_category = _tables(found, part, _number)
    parts = [(0, _("the whole year"))] + [
        (p.number, period_words(p)) for p in found.periods if kind is not PeriodKind.YEAR
    ]
    return render_template(
        "staff/statistics.html",
        form=form,
        found=found,
        by_period=by_period,
        by_category=by_category,
        charts=_charts(found),
        parts=parts,
        part_words=dict(parts)[part],
    )


def _cell(text: str) -> str:
    """A text cell a spreadsheet does not run as a formula (OWASP "CSV Injection"):
    one that begins with ``= + - @`` TAB or CR gets a leading apostrophe."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _plain(value: int | float | None) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


@bp.get("/statistics.csv")
@requires(Policy.STATISTICS)
def statistics_csv() -> ResponseReturnValue:
    """The figures of the page as CSV (UTF-8, a header row in the reader's language):
    a row per period and category, each period's "all categories" row first, the year's
    rows last; numbers plain (a dot for decimals, empty: none)."""
    form = StatisticsForm(request.args)
    if not form.validate():
        return render_template("staff/statistics.html", form=form, found=None), 400
    kind, year, _part = _chosen(form)
    found = _figures(kind, year, exported=True)
    columns = [c for _id, _caption, cs in [*THEMES, CHANNEL_THEME] for c in cs]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [_cell(str(w)) for w in [_("Period"), _("Category"), *(c.words for c in columns)]]
    )
    spans = [
        (period_words(p), p.number, f) for p, f in zip(found.periods, found.by_period, strict=True)
    ]
    spans.append((_("Whole year"), 0, found.total))
    for label, number, figures in spans:
        writer.writerow(
            [_cell(label), _cell(_("All categories")), *(_plain(c.value(figures)) for c in columns)]
        )
        for slug, part in sorted(
            found.by_category[number].items(), key=lambda kv: category_label(kv[0]).casefold()
        ):
            writer.writerow(
                [
                    _cell(label),
                    _cell(category_label(slug)),
                    *(_plain(c.value(part)) for c in columns),
                ]
            )
    response = Response(out.getvalue().encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Disposition"] = content_disposition(
        f"sipadu-statistics-{year}-{kind.value}.csv"
    )
    return response
