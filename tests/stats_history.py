"""A known history of 2023 for the statistics tests (issue 19, item 2): reports with
chosen days, statuses, staff and reporter messages, reopenings, identity requests and
operators' intakes, stored as direct rows (their days lie in the past, which no service
writes), and every figure it must give, worked out by hand below (not by the code
under test). Evaluated as of :data:`AS_OF`.

Reports (received, category, ack due / acknowledged, feedback due / first feedback,
closed, status, reopened):

    R1  2023-01-02 kkn       01-09/01-05  04-02/01-16 (message)   03-01 substantiated
    R2  2023-01-16 kkn (sub) 01-23/01-30  04-16/05-01 (closing)   05-01 unsubstantiated, reopened
    R3  2023-02-06 abuse     02-13/-      05-07/-                 -     received
    R4  2023-02-20 abuse     2099/-       2099/-                  -     received (pending)
    R5  2023-04-03 admin     04-10/04-10  07-02/04-24 (reporter 04-05 does not count)
    R10 2023-04-17 admin     04-24/04-18  07-16/08-07             -     referred
    R6  2023-07-03 staff     07-10/07-04  10-02/07-04 (closing; msg 07-10) rejected, reopened 2x
    R7  2023-12-25 kkn       none/12-27   none/-                  -     in_review
    and two outside the year (2022-12-26, 2024-01-01).
"""

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action
from sipadu.persistence.models import (
    AuditEvent,
    Category,
    IdentityRequest,
    Message,
    Report,
    StaffAccount,
)
from sipadu.services.categories import seed_categories
from sipadu.services.statistics import IdentityCounts, Indicators

YEAR = 2023
AS_OF = date(2024, 1, 10)
SUB = "kkn_pengadaan_stats"  # a sub-category of kkn: counted as kkn
SUB_LABELS = ("Pengadaan barang (uji statistik)", "Procurement (statistics test)")
NO_DUE = date(2099, 1, 1)
D = date


def _report(session: Session, slug_ids: dict[str, uuid.UUID], **values) -> uuid.UUID:
    category = values.pop("category")
    report = Report(id=uuid.uuid4(), category_id=slug_ids[category], **values)
    session.add(report)
    session.flush()
    return report.id


def _message(session: Session, report_id: uuid.UUID, author: str, day: date) -> None:
    session.add(
        Message(id=uuid.uuid4(), report_id=report_id, author=author, sent_on=day, body=b"\x02x")
    )


def _entry(session: Session, action: Action, at: datetime, **kwargs) -> None:
    """An audit entry, then dated in the past (the chain no longer verifies after: no
    test of this history checks it)."""
    event = audit.append(session, "operator", "operator", action, **kwargs)
    session.execute(
        update(AuditEvent)
        .where(AuditEvent.seq == event.seq)
        .values(at=at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    )


def seed(session: Session) -> dict[str, uuid.UUID]:
    """Store the history in ``session`` (the caller commits or rolls back); the reports'
    ids by name."""
    seed_categories(session, audit.OPERATOR)
    ids = {c.slug: c.id for c in session.scalars(select(Category))}
    if SUB not in ids:
        sub = Category(
            id=uuid.uuid4(),
            slug=SUB,
            parent_id=ids["kkn"],
            label_id=SUB_LABELS[0],
            label_en=SUB_LABELS[1],
        )
        session.add(sub)
        session.flush()
        ids[SUB] = sub.id
    r = {}
    r["R1"] = _report(
        session, ids, category="kkn", received_on=D(2023, 1, 2), ack_due_on=D(2023, 1, 9),
        acknowledged_on=D(2023, 1, 5), feedback_due_on=D(2023, 4, 2), closed_on=D(2023, 3, 1),
        status="closed_substantiated",
    )  # fmt: skip
    r["R2"] = _report(
        session, ids, category=SUB, received_on=D(2023, 1, 16), ack_due_on=D(2023, 1, 23),
        acknowledged_on=D(2023, 1, 30), feedback_due_on=D(2023, 4, 16), closed_on=D(2023, 5, 1),
        status="closed_unsubstantiated",
    )  # fmt: skip
    r["R3"] = _report(
        session, ids, category="abuse_of_authority", received_on=D(2023, 2, 6),
        ack_due_on=D(2023, 2, 13), feedback_due_on=D(2023, 5, 7), status="received",
    )  # fmt: skip
    r["R4"] = _report(
        session, ids, category="abuse_of_authority", received_on=D(2023, 2, 20),
        ack_due_on=NO_DUE, feedback_due_on=NO_DUE, status="received",
    )  # fmt: skip
    r["R5"] = _report(
        session, ids, category="administrative_violation", received_on=D(2023, 4, 3),
        ack_due_on=D(2023, 4, 10), acknowledged_on=D(2023, 4, 10), feedback_due_on=D(2023, 7, 2),
        status="investigating",
    )  # fmt: skip
    r["R10"] = _report(
        session, ids, category="administrative_violation", received_on=D(2023, 4, 17),
        ack_due_on=D(2023, 4, 24), acknowledged_on=D(2023, 4, 18), feedback_due_on=D(2023, 7, 16),
        status="referred",
    )  # fmt: skip
    r["R6"] = _report(
        session, ids, category="staff_discipline", received_on=D(2023, 7, 3),
        ack_due_on=D(2023, 7, 10), acknowledged_on=D(2023, 7, 4), feedback_due_on=D(2023, 10, 2),
        closed_on=D(2023, 7, 4), status="rejected",
    )  # fmt: skip
    r["R7"] = _report(
        session, ids, category="kkn", received_on=D(2023, 12, 25),
        acknowledged_on=D(2023, 12, 27), status="in_review",
    )  # fmt: skip
    r["before"] = _report(
        session, ids, category="kkn", received_on=D(2022, 12, 26), ack_due_on=D(2023, 1, 2),
        feedback_due_on=D(2023, 3, 26), status="received",
    )  # fmt: skip
    r["after"] = _report(
        session, ids, category="kkn", received_on=D(2024, 1, 1), ack_due_on=D(2024, 1, 8),
        feedback_due_on=D(2024, 3, 31), status="received",
    )  # fmt: skip
    _message(session, r["R1"], "staff", D(2023, 1, 16))
    _message(session, r["R1"], "reporter", D(2023, 1, 3))
    _message(session, r["R5"], "reporter", D(2023, 4, 5))
    _message(session, r["R5"], "staff", D(2023, 5, 1))
    _message(session, r["R5"], "staff", D(2023, 4, 24))
    _message(session, r["R10"], "staff", D(2023, 8, 7))
    _message(session, r["R6"], "staff", D(2023, 7, 10))
    at = datetime(2023, 6, 1, 8, tzinfo=UTC)
    for name in ("R2", "R6", "R6"):
        _entry(session, Action.REPORT_REOPEN, at, report_id=r[name], detail={"from": "x"})
    for channel, moment in (
        ("walk_in", datetime(2023, 1, 2, 10, tzinfo=UTC)),
        ("phone", datetime(2023, 2, 6, 9, tzinfo=UTC)),
        ("letter", datetime(2023, 4, 17, 11, tzinfo=UTC)),
        ("email", datetime(2022, 12, 31, 12, tzinfo=UTC)),
        ("other", datetime(2024, 1, 1, 1, tzinfo=UTC)),
    ):
        _entry(session, Action.REPORT_INTAKE, moment, detail={"channel": channel, "office": ""})
    asker = session.scalar(select(StaffAccount).where(StaffAccount.username == "stats_asker"))
    if asker is None:
        asker = StaffAccount(id=uuid.uuid4(), username="stats_asker", display_name="Asker")
        session.add(asker)
        session.flush()
    for name, moment, state in (
        ("R1", datetime(2023, 1, 20, 9, tzinfo=UTC), "approved"),
        ("R2", datetime(2023, 1, 25, 9, tzinfo=UTC), "refused"),
        ("R3", datetime(2023, 2, 10, 9, tzinfo=UTC), "pending"),
        ("R6", datetime(2023, 7, 5, 9, tzinfo=UTC), "approved"),
        ("R1", datetime(2022, 12, 31, 23, tzinfo=UTC), "approved"),
        ("R7", datetime(2024, 1, 2, 9, tzinfo=UTC), "pending"),
    ):
        session.add(
            IdentityRequest(
                id=uuid.uuid4(),
                report_id=r[name],
                account_id=asker.id,
                reason=b"\x02x",
                state=state,
                requested_at=moment,
            )
        )
    session.flush()
    return r


def indicators(
    received: int,
    ack: tuple[int, int, int],
    feedback: tuple[int, int, int],
    outcomes: tuple[int, int, int, int] = (0, 0, 0, 0),
    reopened: int = 0,
    medians: tuple[float | None, float | None, float | None] = (None, None, None),
) -> Indicators:
    """Indicators, tersely: ack and feedback as (on time, late, pending); outcomes as
    (substantiated, unsubstantiated, referred, rejected); medians (ack, feedback, close)."""
    return Indicators(received, *ack, *feedback, *outcomes, reopened, *medians)


NONE = indicators(0, (0, 0, 0), (0, 0, 0))
JAN = indicators(2, (1, 1, 0), (1, 1, 0), (1, 1, 0, 0), 1, (8.5, 59.5, 81.5))
FEB = indicators(2, (0, 1, 1), (0, 1, 1))
APR = indicators(2, (2, 0, 0), (1, 1, 0), (0, 0, 1, 0), 0, (4.0, 66.5, None))
JUL = indicators(1, (1, 0, 0), (1, 0, 0), (0, 0, 0, 1), 1, (1.0, 1.0, 1.0))
DEC = indicators(1, (1, 0, 0), (0, 0, 1), medians=(2.0, None, None))
YEAR_TOTAL = indicators(8, (5, 2, 1), (3, 3, 2), (1, 1, 1, 1), 2, (2.5, 21.0, 58.0))
Q1 = indicators(4, (1, 2, 1), (1, 2, 1), (1, 1, 0, 0), 1, (8.5, 59.5, 81.5))
MONTHS = {1: JAN, 2: FEB, 4: APR, 7: JUL, 12: DEC}
QUARTERS = {1: Q1, 2: APR, 3: JUL, 4: DEC}
BY_CATEGORY = {
    "kkn": indicators(3, (2, 1, 0), (1, 1, 1), (1, 1, 0, 0), 1, (3.0, 59.5, 81.5)),
    "abuse_of_authority": FEB,
    "administrative_violation": APR,
    "staff_discipline": JUL,
}

ASKED_JAN = IdentityCounts(2, 1, 1, 0)
ASKED_FEB = IdentityCounts(1, 0, 0, 1)
ASKED_JUL = IdentityCounts(1, 1, 0, 0)
ASKED_YEAR = IdentityCounts(4, 2, 1, 1)
ASKED_BY_CATEGORY = {
    "kkn": ASKED_JAN,
    "abuse_of_authority": ASKED_FEB,
    "administrative_violation": IdentityCounts(),
    "staff_discipline": ASKED_JUL,
}
ASKED_MONTHS = {1: ASKED_JAN, 2: ASKED_FEB, 7: ASKED_JUL}

CHANNELS_YEAR = {"web": 5, "walk_in": 1, "phone": 1, "letter": 1, "email": 0, "other": 0}
# month → channel counts (web = received - intakes)
CHANNEL_MONTHS = {
    1: {"web": 1, "walk_in": 1},
    2: {"web": 1, "phone": 1},
    4: {"web": 1, "letter": 1},
    7: {"web": 1},
    12: {"web": 1},
}


def channels_of(month: int) -> dict[str, int]:
    return {
        "web": 0, "walk_in": 0, "phone": 0, "letter": 0, "email": 0, "other": 0,
        **CHANNEL_MONTHS.get(month, {}),
    }  # fmt: skip
