"""How a report came in: the channel, the office and the intake operator (issue 18 item 1).

Every report stores one sealed ``intake`` field (``report_field``, under the case key)
holding :func:`intake_json`: ``{"channel", "office", "operator"}``. A report sent on the
web stores ``{"channel": "web", "office": "", "operator": ""}``, so that the field's
presence and its padded size say nothing of how a report arrived (G2): only those who
hold the case key read it. Nothing about the channel is stored in plaintext; the audit
entry of an operator's intake names the channel and office (docs/audit.md), never the
report.
"""

import json
from dataclasses import dataclass
from enum import StrEnum

from sipadu.crypto.padding import MIN_FIELD_BUCKET

INTAKE_FIELD = "intake"
INTAKE_BYTES = MIN_FIELD_BUCKET - 1  # the padding marker takes one byte


class Channel(StrEnum):
    """Where a report entered. ``web``: the reporter portal; the others are typed in by
    an intake operator (Indonesian rules accept oral reports as well as written ones)."""

    WEB = "web"
    WALK_IN = "walk_in"  # in person at an office counter
    PHONE = "phone"
    LETTER = "letter"
    EMAIL = "email"
    OTHER = "other"


OPERATOR_CHANNELS = tuple(c for c in Channel if c is not Channel.WEB)


@dataclass(frozen=True)
class Intake:
    """An operator's intake: the channel (one of :data:`OPERATOR_CHANNELS`), the office
    where it was received (an entry of ``SIPADU_INTAKE_OFFICES`` until the list of units
    replaces it; "" if none) and the operator's username."""

    channel: Channel
    office: str
    operator: str


WEB = Intake(Channel.WEB, "", "")


def intake_json(intake: Intake | None) -> str:
    """The sealed field's text: compact JSON, keys in a fixed order. ``None`` is a web
    report. Raises ValueError past :data:`INTAKE_BYTES`: every intake field, a web
    report's or an operator's, is sealed into the same padding bucket, so its size says
    nothing of how the report came in (an office's name is bounded by configuration,
    ``OFFICE_BYTES``, a username by its pattern)."""
    chosen = intake or WEB
    text = json.dumps(
        {"channel": chosen.channel.value, "office": chosen.office, "operator": chosen.operator},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    if len(text.encode("utf-8")) > INTAKE_BYTES:
        raise ValueError("an intake field larger than one padding bucket")
    return text


def parse_intake(text: str) -> Intake | None:
    """The field read back (by whoever opened it); None if it is not one we wrote."""
    try:
        value = json.loads(text)
        return Intake(Channel(value["channel"]), str(value["office"]), str(value["operator"]))
    except (ValueError, KeyError, TypeError):
        return None
