"""A known history of November 2025 for the transparency report tests (issue 19, item
3): reports with chosen days, statuses, staff messages and reopenings, stored as direct
rows (their days lie in the past, which no service writes), and every figure of the
published report worked out by hand below, suppression included (not by the code under
test). All deadlines lie in the past or in 2099, so the figures do not depend on the
day the test runs.

Every report is received on 10 November 2025 (ack due +7, feedback due +90) unless said:

    abuse (7)  all acknowledged +2; 2 rejected, closed +3 (their feedback: the closing,
               on time); 1 closed not substantiated +100 (late); 4 investigating with a
               staff message +100 (late)
    admin (2)  acknowledged +1 and +10 (late); investigating, staff messages +95 (late)
    kkn (12)   k1-k5 substantiated, closed +60; k6 not substantiated, closed +60;
               k7, k8 not substantiated, closed +120; k9 rejected, closed +120;
               k10, k11 investigating, staff message +120; k12 received, never
               acknowledged, deadlines 2099 (pending). Acknowledged +3, but k8, k9 and
               k11 at +9 (late). k7 and k10 reopened. k2, k8, k12 in a sub-category.
    discipline none
    pungli (6) an added top-level category: acknowledged +1, substantiated, closed +30;
               p1 has a staff message at +5 (its feedback: the earlier of the two)

and one kkn report on 31 October and one on 1 December (other months).

Counts (received; ack on time/late/pending; feedback on time/late/pending; substantiated,
not substantiated, referred, rejected; reopened):

    abuse      7;  7 0 0;  2 5 0;  0 1 0 2;  0
    admin      2;  1 1 0;  0 2 0;  0 0 0 0;  0
    kkn       12;  8 3 1;  6 5 1;  5 3 0 1;  2
    discipl.   0;  0 0 0;  0 0 0;  0 0 0 0;  0
    pungli     6;  6 0 0;  6 0 0;  6 0 0 0;  1
    total     27; 22 4 1; 14 12 1; 11 4 0 3;  3

Suppression at threshold 5 (docs/transparency.md): every count below 5 first. The
figures then shown (abuse 7 received and acknowledged on time, 5 late feedback; kkn 12,
8, 6, 5, 5; pungli's 6s; the total row's 27, 22, 14, 12, 11) give hidden figures away:
abuse's 0 late and 0 pending acknowledgements are 7 - 7. Each time the first hidden
figure (table order) whose interval is narrower than 5 takes the smallest shown figure
of a relation holding it along (ties in table order), as follows (interval → hidden):

    abuse ack late      [0, 0]  abuse received 7 (its tie with acknowledged on time
                                7: received comes first)
    abuse received      [7, 7]  abuse feedback late 5 (7 on time is a floor; the
                                columns: 27 - 12 - 6 leave 9 for abuse, admin and
                                discipline, and admin's and discipline's late feedback
                                is 12 - 5 - 5 - 0 (pungli: 6 - 6) = 2, so at least 2)
    abuse received      [7, 8]  pungli received 6
    abuse received      [7, 8]  abuse ack on time 7
    abuse ack late      [0, 1]  pungli ack on time 6, then kkn ack on time 8
    abuse feedback on time [0, 2]  kkn feedback on time 6, then pungli's 6
    abuse feedback pending [0, 1]  kkn feedback late 5, kkn received 12, total
                                feedback late 12
    abuse substantiated [0, 0]  kkn substantiated 5 (beside 11 in all and pungli's 6)

after which every hidden figure's interval is at least 5 wide. Left shown: pungli's 6
substantiated and the total row's 27, 22, 14 and 11. (The steps after the first two
were computed with the code and checked with an independent solver, scipy's HiGHS, by
the author; tests/services/test_suppression.py checks every interval against brute
force on small tables.)

No median is published (docs/transparency.md): the columns are the counts alone.
"""

import uuid
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action
from sipadu.persistence.models import Category, Message, Report

MONTH = "2025-11"
DAY = date(2025, 11, 10)
FAR = date(2099, 1, 1)
SUB = "kkn_pengadaan_transparansi"
PUNGLI = "pungli_transparansi"
# Not ASCII on purpose: the canonical JSON of a label (RFC 8785) is UTF-8 as is.
PUNGLI_LABELS = ("Pungutan liar — “pungli”", "Illegal levies — “pungli”")
ROWS = ["abuse_of_authority", "administrative_violation", "kkn", "staff_discipline", PUNGLI]

C = (
    "received",
    "ack_on_time",
    "ack_late",
    "ack_pending",
    "feedback_on_time",
    "feedback_late",
    "feedback_pending",
    "closed_substantiated",
    "closed_unsubstantiated",
    "referred",
    "rejected",
    "reopened",
)
H = None  # hidden


def _row(*values: object) -> dict[str, object]:
    return dict(zip(C, values, strict=True))


# What the published document shows (None: hidden), category rows in order, then total.
EXPECTED = [
    _row(H, H, H, H, H, H, H, H, H, H, H, H),
    _row(H, H, H, H, H, H, H, H, H, H, H, H),
    _row(H, H, H, H, H, H, H, H, H, H, H, H),
    _row(H, H, H, H, H, H, H, H, H, H, H, H),
    _row(H, H, H, H, H, H, H, 6, H, H, H, H),
    _row(27, 22, H, H, 14, H, H, 11, H, H, H, H),
]
# Every figure before suppression, for a threshold low enough to hide nothing but 0s
# and 1s (SIPADU_TRANSPARENCY_THRESHOLD=2).
COUNTS = [
    _row(7, 7, 0, 0, 2, 5, 0, 0, 1, 0, 2, 0),
    _row(2, 1, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0),
    _row(12, 8, 3, 1, 6, 5, 1, 5, 3, 0, 1, 2),
    _row(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    _row(6, 6, 0, 0, 6, 0, 0, 6, 0, 0, 0, 1),
    _row(27, 22, 4, 1, 14, 12, 1, 11, 4, 0, 3, 3),
]


def _report(session: Session, category: uuid.UUID, status: str, **days: object) -> uuid.UUID:
    received = days.pop("received_on", DAY)
    values = {
        "ack_due_on": received + timedelta(days=7),
        "feedback_due_on": received + timedelta(days=90),
        **days,
    }
    report = Report(
        id=uuid.uuid4(),
        category_id=category,
        received_on=received,
        status=status,
        **values,
    )
    session.add(report)
    session.flush()
    return report.id


def _staff_message(session: Session, report_id: uuid.UUID, after: int) -> None:
    session.add(
        Message(
            id=uuid.uuid4(),
            report_id=report_id,
            author="staff",
            sent_on=DAY + timedelta(days=after),
            body=b"\x02x",
        )
    )


def seed(session: Session) -> None:
    """Store the history (the instance's four categories are there: ``sipadu init``);
    the caller commits."""
    ids = {c.slug: c.id for c in session.scalars(select(Category))}
    sub = Category(id=uuid.uuid4(), slug=SUB, parent_id=ids["kkn"], label_id="Pengadaan",
                   label_en="Procurement")  # fmt: skip
    pungli = Category(id=uuid.uuid4(), slug=PUNGLI, label_id=PUNGLI_LABELS[0],
                      label_en=PUNGLI_LABELS[1])  # fmt: skip
    session.add_all([sub, pungli])
    session.flush()
    ids[SUB], ids[PUNGLI] = sub.id, pungli.id

    def after(n: int) -> date:
        return DAY + timedelta(days=n)

    abuse = ids["abuse_of_authority"]
    for _ in range(2):
        _report(session, abuse, "rejected", acknowledged_on=after(2), closed_on=after(3))
    _report(session, abuse, "closed_unsubstantiated", acknowledged_on=after(2),
            closed_on=after(100))  # fmt: skip
    for _ in range(4):
        r = _report(session, abuse, "investigating", acknowledged_on=after(2))
        _staff_message(session, r, 100)

    admin = ids["administrative_violation"]
    for ack in (1, 10):
        r = _report(session, admin, "investigating", acknowledged_on=after(ack))
        _staff_message(session, r, 95)

    kkn = {n: ids[SUB] if n in (2, 8, 12) else ids["kkn"] for n in range(1, 13)}
    ack = {n: after(9 if n in (8, 9, 11) else 3) for n in range(1, 12)}
    for n in range(1, 6):
        _report(session, kkn[n], "closed_substantiated", acknowledged_on=ack[n],
                closed_on=after(60))  # fmt: skip
    _report(session, kkn[6], "closed_unsubstantiated", acknowledged_on=ack[6], closed_on=after(60))
    reopened = []
    for n in (7, 8):
        r = _report(session, kkn[n], "closed_unsubstantiated", acknowledged_on=ack[n],
                    closed_on=after(120))  # fmt: skip
        if n == 7:
            reopened.append(r)
    _report(session, kkn[9], "rejected", acknowledged_on=ack[9], closed_on=after(120))
    for n in (10, 11):
        r = _report(session, kkn[n], "investigating", acknowledged_on=ack[n])
        _staff_message(session, r, 120)
        if n == 10:
            reopened.append(r)
    _report(session, kkn[12], "received", ack_due_on=FAR, feedback_due_on=FAR)

    for n in range(1, 7):
        r = _report(session, ids[PUNGLI], "closed_substantiated", acknowledged_on=after(1),
                    closed_on=after(30))  # fmt: skip
        if n == 1:
            _staff_message(session, r, 5)
            reopened.append(r)

    _report(session, ids["kkn"], "received", received_on=date(2025, 10, 31))
    _report(session, ids["kkn"], "received", received_on=date(2025, 12, 1))
    for report_id in reopened:  # real entries: the chain stays whole for the recipe
        audit.append(session, "operator", "operator", Action.REPORT_REOPEN,
                     report_id=report_id, detail={"reason_given": True})  # fmt: skip
    session.flush()
