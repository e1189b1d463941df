"""Reported units (:mod:`sipadu.services.units`, issue 18): where each kind goes, names
kept plain and unique, a CSV import checked row by row (every refused line named,
nothing proposed), bounded; applied in file order, each unit recorded; and the groups
the report form offers."""

import pytest
from sqlalchemy import select

from sipadu.accountability.audit import OPERATOR
from sipadu.persistence.models import Unit, UnitKind
from sipadu.services import Reason, ServiceError, units
from tests.services.helpers import Recorded, refused

CSV = (
    "kind,name,parent\n"
    "Kota Administrasi,Jakarta Timur,\n"
    "Kecamatan,Matraman,Jakarta Timur\n"
    "Kelurahan,Pal Meriam,Matraman\n"
    "SKPD,Dinas Kesehatan,\n"
    "SKPD,Suku Dinas Kesehatan Jakarta Timur,Jakarta Timur\n"
)


def imported(session) -> dict[str, Unit]:
    content = units.parse_import(session, CSV)
    made = units.apply_import(session, content, OPERATOR, "p")
    return {u.name: u for u in made}


def test_an_import_adds_every_row_in_order_under_its_parent_each_recorded(session):
    log = Recorded(session)
    made = imported(session)
    assert made["Matraman"].parent_id == made["Jakarta Timur"].id
    assert made["Pal Meriam"].parent_id == made["Matraman"].id
    assert made["Dinas Kesehatan"].parent_id is None
    assert made["Pal Meriam"].kind == UnitKind.SUBDISTRICT
    assert log.actions() == ["unit.create"] * 5
    assert {e["detail"]["name"] for e in log.entries()} == set(made)


def test_every_refused_line_is_named_and_nothing_is_kept(session):
    text = (
        "jenis,nama,induk\n"
        "Kelurahan,Yatim,Tidak Ada\n"  # 2: parent not found
        "Desa,Desa Salah,\n"  # 3: unknown kind
        "Kecamatan,Tanpa Kota,\n"  # 4: a kecamatan needs a Kota Administrasi
        "Kota Administrasi,Jakarta Barat,\n"  # 5: fine
        "Kota Administrasi,jakarta  barat,\n"  # 6: the same again
        "SKPD,Dua,Nilai,Lebih\n"  # 7: four values
        "SKPD,\u202eDinas,\n"  # 8: a bidi override
        "SKPD,10.1.2.3,\n"  # 9: looks like an IP address: never recorded
    )
    with refused(Reason.IMPORT_HAS_PROBLEMS, "units") as info:
        units.parse_import(session, text)
    problems = {p.line: p.error.reason for p in info.value.problems}
    assert problems == {
        2: Reason.UNIT_PARENT_NOT_FOUND,
        3: Reason.UNKNOWN_UNIT_KIND,
        4: Reason.UNIT_PARENT_WRONG,
        6: Reason.UNIT_DUPLICATE,
        7: Reason.IMPORT_ROW_SHAPE,
        8: Reason.TEXT_NOT_PLAIN,
        9: Reason.TEXT_NOT_RECORDABLE,
    }
    assert info.value.params == {"count": 7}
    assert session.query(Unit).count() == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("nama\nx\n", Reason.IMPORT_NOT_CSV),
        ("kind,name,parent\n\n", Reason.IMPORT_EMPTY),
        (
            "kind,name,parent\n" + "SKPD,Dinas Dinas Dinas Dinas,\n" * 10_000,
            Reason.IMPORT_TOO_LARGE,
        ),
        (
            "kind,name,parent\n"
            + "".join(f"SKPD,D{n},\n" for n in range(units.MAX_IMPORT_ROWS + 1)),
            Reason.IMPORT_TOO_MANY_ROWS,
        ),
    ],
)
def test_an_import_is_refused_whole_when_it_is_no_list_of_units_or_too_big(session, text, reason):
    with refused(reason, "units"):
        units.parse_import(session, text)


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_an_import_reads_every_line_ending_alike(session, ending):
    """Review of issue 18: a file saved with CR alone (older Mac spreadsheets) made the
    csv module raise, and the admin got a server error with the text lost."""
    content = units.parse_import(session, CSV.replace("\n", ending))
    assert [row["name"] for row in content["rows"]] == [
        "Jakarta Timur",
        "Matraman",
        "Pal Meriam",
        "Dinas Kesehatan",
        "Suku Dinas Kesehatan Jakarta Timur",
    ]


@pytest.mark.parametrize(
    ("text", "reason", "line"),
    [
        # one value over the csv module's own limit (131,072 characters)
        ('kind,name,parent\nSKPD,"' + "a" * 140_000 + '",\n', Reason.IMPORT_LINE_TOO_LONG, 2),
        (
            "kind,name,parent\nSKPD,Dinas,\nSKPD," + "a" * 601 + ",\n",
            Reason.IMPORT_LINE_TOO_LONG,
            3,
        ),
        # a quote never closed, over many short lines, past that limit
        ('kind,name,parent\nSKPD,"' + ("b" * 500 + "\n") * 300, Reason.IMPORT_UNREADABLE, 2),
    ],
)
def test_an_import_csv_cannot_read_is_refused_with_its_line(session, text, reason, line):
    with refused(reason, "units") as info:
        units.parse_import(session, text)
    assert info.value.params["line"] == line
    assert session.query(Unit).count() == 0


def test_a_unit_twice_is_refused_when_proposed_and_again_when_applied(session):
    imported(session)
    with refused(Reason.UNIT_DUPLICATE, "name"):
        units.new_unit_content(session, "skpd", "DINAS  kesehatan", None)
    content = units.parse_import(session, "kind,name,parent\nSKPD,Dinas Baru,\n")
    units.apply_import(session, content, OPERATOR, "p1")
    with refused(Reason.IMPORT_HAS_PROBLEMS, "units"):  # the same file approved twice
        units.apply_import(session, content, OPERATOR, "p2")


def test_an_ambiguous_parent_name_is_refused(session):
    made = imported(session)
    units.create_unit(
        session,
        {"kind": "kota", "name": "Matraman", "parent": None, "active": True},
        OPERATOR,
        "p",
    )
    with refused(Reason.IMPORT_HAS_PROBLEMS, "units") as info:
        units.parse_import(session, "kind,name,parent\nKelurahan,Kebon Manggis,Matraman\n")
    assert info.value.problems[0].error.reason is Reason.UNIT_PARENT_AMBIGUOUS
    assert made


def test_a_rename_or_withdrawal_is_recorded_with_old_and_new(session):
    made = imported(session)
    log = Recorded(session)
    unit = made["Pal Meriam"]
    units.change_unit(session, unit, {"name": "Pal Meriam Baru", "active": False}, OPERATOR, "p")
    assert (unit.name, unit.active) == ("Pal Meriam Baru", False)
    assert log.entries()[0]["detail"] | {} == {
        "unit": str(unit.id),
        "proposal": "p",
        "renamed_from": "Pal Meriam",
        "name": "Pal Meriam Baru",
        "active": False,
    }
    with refused(Reason.NOTHING_CHANGES):
        units.changed_unit_content(session, unit, "Pal Meriam Baru", False)


def test_a_unit_under_a_withdrawn_one_is_not_offered_and_refused(session):
    """A crafted or stale form naming a kelurahan of a withdrawn kecamatan: the form
    never offers it (grouped_units), and the service refuses it (review of issue 18)."""
    made = imported(session)
    village = str(made["Pal Meriam"].id)
    assert units.unit_offered(session, village) is made["Pal Meriam"]
    made["Matraman"].active = False
    offered = [u for g in units.grouped_units(session) for u, _ in g.units]
    assert made["Pal Meriam"] not in offered
    with refused(Reason.NO_SUCH_UNIT, "unit"):
        units.unit_offered(session, village)
    made["Matraman"].active, made["Jakarta Timur"].active = True, False
    with refused(Reason.NO_SUCH_UNIT, "unit"):
        units.unit_offered(session, village)


def test_the_form_offers_active_units_grouped_by_city_with_their_path(session):
    made = imported(session)
    made["Dinas Kesehatan"].active = False
    groups = units.grouped_units(session)
    assert [g.head.name if g.head else None for g in groups] == ["Jakarta Timur"]
    paths = [path for _, path in groups[0].units]
    assert paths == [
        "Jakarta Timur",
        "Suku Dinas Kesehatan Jakarta Timur",
        "Matraman",
        "Matraman — Pal Meriam",
    ]
    assert units.unit_path(session, str(made["Pal Meriam"].id)) == (
        "Jakarta Timur — Matraman — Pal Meriam"
    )
    assert units.unit_path(session, "") is None
    with refused(Reason.NO_SUCH_UNIT, "unit"):
        units.unit_offered(session, str(made["Dinas Kesehatan"].id))
    with refused(Reason.NO_SUCH_UNIT, "unit"):
        units.unit_offered(session, "bukan-id")


def _fill_to_the_limit(session, name_of) -> list[Unit]:
    """SKPDs named ``name_of(n)`` added one by one until the next is refused."""
    made = []
    for n in range(units.MAX_UNIT_SELECT_BYTES):
        try:
            content = units.new_unit_content(session, "skpd", name_of(n), None)
        except ServiceError as error:
            assert error.reason is Reason.UNITS_FORM_TOO_LARGE and error.field == "units"
            assert error.params == {"max": 70}
            return made
        made.append(units.create_unit(session, content, OPERATOR, "p"))
    raise AssertionError("never refused")


def test_units_that_would_make_the_report_form_too_large_are_refused(session):
    """Review of issue 18: nothing kept the report form within 100 KB (900 SKPDs made
    86 KB; an import may have 3,000 rows). The unit select's bytes, as rendered with
    every name escaped, are bounded by MAX_UNIT_SELECT_BYTES."""
    # the longest names, with characters that HTML escaping lengthens fivefold
    made = _fill_to_the_limit(session, lambda n: f"{n:04d} " + '&"<' * 48 + "x")
    every = list(session.scalars(select(Unit)))
    size = units.select_bytes(every)
    assert units.MAX_UNIT_SELECT_BYTES - 1000 < size <= units.MAX_UNIT_SELECT_BYTES
    # an import is refused as a whole
    with refused(Reason.UNITS_FORM_TOO_LARGE, "units"):
        units.parse_import(
            session, "kind,name,parent\nSKPD,Dinas A,\nSKPD,Dinas " + "&" * 140 + ",\n"
        )
    # withdrawing or shortening is never refused; the room it makes can be used
    units.change_unit(session, made[0], {"name": made[0].name, "active": False}, OPERATOR, "p")
    units.change_unit(session, made[1], {"name": "Dinas Pendek", "active": True}, OPERATOR, "p")
    assert _fill_to_the_limit(session, lambda n: f"Y{n:03d} " + '&"<' * 48 + "x")
    # then offering the withdrawn unit again is refused, also when approved later
    with refused(Reason.UNITS_FORM_TOO_LARGE, "units"):
        units.changed_unit_content(session, made[0], made[0].name, True)
    with refused(Reason.UNITS_FORM_TOO_LARGE, "units"):  # a longer name
        units.changed_unit_content(session, made[1], "&" * 150, True)
    with refused(Reason.UNITS_FORM_TOO_LARGE, "units"):
        units.create_unit(
            session,
            {"kind": "skpd", "name": "&" * 150, "parent": None, "active": True},
            OPERATOR,
            "p",
        )
