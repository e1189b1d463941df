"""Covering indexes for the compliance statistics (issue 19, item 4; docs/performance.md).

Reading a year of reports for the statistics page cost, on SQLite, a primary-key lookup
per report (``report`` is stored ``WITHOUT ROWID`` with random UUID keys, so the
``received_on`` index holds only the day and the key), and finding each report's first
staff message a lookup per message. Three indexes hold what those queries read:

- ``ix_report_statistics``: ``report(received_on, category_id, status, ack_due_on,
  acknowledged_on, feedback_due_on, closed_on, id)``;
- ``ix_message_author_report_id_sent_on``: ``message(author, report_id, sent_on)``;
- ``ix_audit_event_action_report_id``: ``audit_event(action, report_id)`` (the reports
  a ``report.reopen`` entry names, without reading the whole log).

Why these add no signal about reports (DESIGN.md G2; docs/crypto.md, "Row order"): every
column they hold is already stored in plain in its table (the coarsened day, category,
status, deadlines, the author word, the message's coarsened day), so an index shows
nothing a ``SELECT`` on the table does not. Their order is that of those plaintext
values, ties broken by the random primary key (SQLite appends a ``WITHOUT ROWID``
table's key to each index entry; PostgreSQL breaks ties by the row's place in the heap,
which the reshuffle puts in key order): never the order rows were written in. Their
pages are rewritten with the tables' own by the periodic reshuffle
(sipadu.persistence.row_order: ``VACUUM`` on SQLite rebuilds every index, ``CLUSTER``
on PostgreSQL every index of the table), so where an index's pages lie in the file
follows the keys too (tests/test_row_order.py compares every index's pages byte for
byte). ``audit_event`` is staff-side: its entries carry exact times on purpose.

Revision ID: 0023_statistics_indexes
Revises: 0022_digest_confirmation
"""

from alembic import op

revision = "0023_statistics_indexes"
down_revision = "0022_digest_confirmation"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_report_statistics": (
        "report",
        [
            "received_on",
            "category_id",
            "status",
            "ack_due_on",
            "acknowledged_on",
            "feedback_due_on",
            "closed_on",
            "id",
        ],
    ),
    "ix_message_author_report_id_sent_on": ("message", ["author", "report_id", "sent_on"]),
    "ix_audit_event_action_report_id": ("audit_event", ["action", "report_id"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
