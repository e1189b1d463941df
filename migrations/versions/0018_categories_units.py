"""Categories, sub-categories and reported units that admins configure (issue 18, item 2).

``category`` gains its words in both languages (label, description, examples: empty for
the four statutory categories, whose words stay the code's translated ones until an
admin changes them), an optional parent (a sub-category; one level) and a flag for the
four statutory ones. New staff-side tables: ``unit`` (SKPD, Kota Administrasi, kecamatan,
kelurahan) and ``unit_route`` (routing by unit, or by unit and category). Nothing of a
report: the unit a report concerns is a sealed ``report_field`` row. ``proposal`` gains
the unit it names and the proposed content (canonical JSON). No time column: the audit
log dates every change.

Revision ID: 0018_categories_units
Revises: 0017_export_recipients
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_categories_units"
down_revision = "0017_export_recipients"
branch_labels = None
depends_on = None

STATUTORY = ("abuse_of_authority", "administrative_violation", "kkn", "staff_discipline")
WORDS = ("label_id", "label_en", "description_id", "description_en", "examples_id", "examples_en")


def _sqlite_begin() -> None:
    """On SQLite a batch rebuilds ``category``: dropping the old table with foreign keys
    on would fail (reports and routes refer to it). Off for the rebuild, checked after."""
    if op.get_bind().dialect.name == "sqlite":
        with op.get_context().autocommit_block():  # the pragma is a no-op inside a transaction
            op.execute("PRAGMA foreign_keys=OFF")


def _sqlite_end() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:  # pragma: no cover — the copy keeps every row; refuse rather than commit
        raise RuntimeError(f"foreign key check failed in {len({r[0] for r in broken})} table(s)")
    with op.get_context().autocommit_block():
        op.execute("PRAGMA foreign_keys=ON")


def upgrade() -> None:
    _sqlite_begin()
    with op.batch_alter_table("category") as batch:
        batch.add_column(sa.Column("parent_id", sa.Uuid(), nullable=True))
        batch.add_column(
            sa.Column("statutory", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        for name in WORDS:
            length = 100 if name.startswith("label") else 400
            batch.add_column(
                sa.Column(name, sa.String(length=length), nullable=False, server_default="")
            )
        batch.create_foreign_key(
            op.f("fk_category_parent_id_category"),
            "category",
            ["parent_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch.create_index(op.f("ix_category_parent_id"), ["parent_id"], unique=False)
    category = sa.table(
        "category", sa.column("slug", sa.String), sa.column("statutory", sa.Boolean)
    )
    op.execute(category.update().where(category.c.slug.in_(STATUTORY)).values(statutory=True))
    _sqlite_end()
    # The server defaults stay: a row inserted by older code (or by hand) is an added,
    # worded-by-nobody category until an admin words it.

    op.create_table(
        "unit",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=150), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["unit.id"], name=op.f("fk_unit_parent_id_unit"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit")),
    )
    op.create_index(op.f("ix_unit_parent_id"), "unit", ["parent_id"], unique=False)
    op.create_table(
        "unit_route",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_unit_route_unit_id_unit"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name=op.f("fk_unit_route_category_id_category"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["staff_account.id"],
            name=op.f("fk_unit_route_account_id_staff_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_route")),
        sa.UniqueConstraint(
            "unit_id",
            "category_id",
            "account_id",
            name=op.f("uq_unit_route_unit_id_category_id_account_id"),
        ),
    )
    op.create_index(op.f("ix_unit_route_unit_id"), "unit_route", ["unit_id"], unique=False)
    op.create_index(op.f("ix_unit_route_account_id"), "unit_route", ["account_id"], unique=False)
    with op.batch_alter_table("proposal") as batch:
        batch.add_column(sa.Column("unit_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("content", sa.Text(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_proposal_unit_id_unit"), "unit", ["unit_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    # The code before knows none of these proposals: it would apply one as a routing
    # change. Nor sub-categories or added categories: reports in them keep their row
    # (a foreign key names it), so only the columns go.
    op.execute(
        "DELETE FROM proposal WHERE unit_id IS NOT NULL OR content IS NOT NULL OR kind IN "
        "('category_add', 'category_change', 'unit_add', 'unit_change', 'unit_import')"
    )
    with op.batch_alter_table("proposal") as batch:
        batch.drop_constraint(op.f("fk_proposal_unit_id_unit"), type_="foreignkey")
        batch.drop_column("content")
        batch.drop_column("unit_id")
    op.drop_index(op.f("ix_unit_route_account_id"), table_name="unit_route")
    op.drop_index(op.f("ix_unit_route_unit_id"), table_name="unit_route")
    op.drop_table("unit_route")
    op.drop_index(op.f("ix_unit_parent_id"), table_name="unit")
    op.drop_table("unit")
    _sqlite_begin()
    with op.batch_alter_table("category") as batch:
        batch.drop_index(op.f("ix_category_parent_id"))
        batch.drop_constraint(op.f("fk_category_parent_id_category"), type_="foreignkey")
        for name in reversed(WORDS):
            batch.drop_column(name)
        batch.drop_column("statutory")
        batch.drop_column("parent_id")
    _sqlite_end()
