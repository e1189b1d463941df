"""Reported units that admins configure (issue 18): SKPD, Kota Administrasi, kecamatan
and kelurahan, offered on the report form as "unit concerned" and targets of routing.

Every change is a proposal a second admin approves (:mod:`sipadu.services.proposals`);
this module checks what is proposed (so the proposal stores exactly what will be
applied) and applies it, audited. A CSV import is one proposal: its rows are checked
here, each refusal naming its line so the admin can fix the file where it is shown.

Where a unit goes (DESIGN: one level each, as the city's administration):
a Kota Administrasi under nothing; a kecamatan under a Kota Administrasi; a kelurahan
under a kecamatan; an SKPD under nothing or a Kota Administrasi (its sudin).
"""

import csv
import hashlib
import html
import io
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action, Actor
from sipadu.persistence.models import UNIT_NAME_MAX, Unit, UnitKind
from sipadu.services import Reason, ServiceError
from sipadu.services.plain_text import plain, same_words

# The kind of parent each kind takes; None: none.
PARENT_KINDS: dict[UnitKind, frozenset[UnitKind | None]] = {
    UnitKind.SKPD: frozenset({None, UnitKind.CITY}),
    UnitKind.CITY: frozenset({None}),
    UnitKind.DISTRICT: frozenset({UnitKind.CITY}),
    UnitKind.SUBDISTRICT: frozenset({UnitKind.DISTRICT}),
}
# How a kind may be written in a CSV file (case and spacing aside): its value, or its
# Indonesian name.
_KIND_SPELLINGS = {
    "skpd": UnitKind.SKPD,
    "kota": UnitKind.CITY,
    "kota administrasi": UnitKind.CITY,
    "kecamatan": UnitKind.DISTRICT,
    "kelurahan": UnitKind.SUBDISTRICT,
}
MAX_IMPORT_BYTES = 256 * 1024  # a city's few thousand units, with room
MAX_IMPORT_ROWS = 3000
# One line of a file: a kind, two names of at most UNIT_NAME_MAX characters each, quotes
# and commas, with room. Checked before the csv module reads the line, so no value is
# ever bounded only by csv.field_size_limit (process-wide, 131,072 by default).
MAX_IMPORT_LINE = 4 * UNIT_NAME_MAX
_HEADERS = ({"kind", "name", "parent"}, {"jenis", "nama", "induk"})
# The report form's "unit concerned" select may take at most this many bytes, so that the
# form stays within the 100 KB every reporter page keeps to (STYLE.md; Tor on a slow
# line): the rest of the form is about 10 KB, and categories admins add take some more.
# Counted as the select is rendered (reporter/report.html), each name HTML-escaped; every
# proposal that offers more (an addition, an import, a rename, a unit offered again) is
# refused past it. Some 700 units of short names, fewer of long ones.
MAX_UNIT_SELECT_BYTES = 70_000
# <option value="{36-character id}" selected>{path}</option>
_OPTION_BYTES = len('<option value="" selected></option>') + 36
# <optgroup label="{the Kota Administrasi, or "City-wide offices (SKPD)" translated}">
_GROUP_BYTES = len('<optgroup label=""></optgroup>') + 80


def unit_kind(typed: str, field: str = "kind") -> UnitKind:
    """A kind as typed in a form or a file; raises ``UNKNOWN_UNIT_KIND``."""
    kind = _KIND_SPELLINGS.get(" ".join(typed.split()).casefold())
    if kind is None:
        raise ServiceError(Reason.UNKNOWN_UNIT_KIND, field, kind=typed[:40])
    return kind


def unit_by_id(session: Session, unit_id: uuid.UUID | str | None, field: str = "unit") -> Unit:
    """The unit with this id; raises ``NO_SUCH_UNIT`` (a stale or crafted form)."""
    try:
        unit = session.get(Unit, uuid.UUID(str(unit_id)))
    except ValueError:
        unit = None
    if unit is None:
        raise ServiceError(Reason.NO_SUCH_UNIT, field)
    return unit


def unit_offered(session: Session, unit_id: str) -> Unit | None:
    """The unit a report concerns, as the form sent its id: None for none (""); raises
    ``NO_SUCH_UNIT`` (field ``unit``) for an id that is not an offered unit: one
    withdrawn, or under a withdrawn one (a kelurahan of a withdrawn kecamatan), as
    :func:`grouped_units` offers neither."""
    if not unit_id:
        return None
    unit = unit_by_id(session, unit_id)
    above: Unit | None = unit
    for _ in range(_DEPTH):  # the places allowed are at most this deep
        if above is None:
            break
        if not above.active:
            raise ServiceError(Reason.NO_SUCH_UNIT, "unit")
        above = session.get(Unit, above.parent_id) if above.parent_id else None
    return unit


def _check_place(kind: UnitKind, parent: Unit | None, field: str = "parent") -> None:
    parent_kind = UnitKind(parent.kind) if parent is not None else None
    if parent_kind not in PARENT_KINDS[kind]:
        raise ServiceError(Reason.UNIT_PARENT_WRONG, field, kind=kind.value)


def _check_unique(
    existing: Iterable[tuple[str, str, str | None]],
    kind: UnitKind,
    name: str,
    parent: str | None,
    field: str = "name",
) -> None:
    """(kind, name, parent id) taken: the same unit twice would split its reports."""
    for other_kind, other_name, other_parent in existing:
        if other_kind == kind and other_parent == parent and same_words(other_name, name):
            raise ServiceError(Reason.UNIT_DUPLICATE, field, name=name)


def _siblings(session: Session) -> list[tuple[str, str, str | None]]:
    return [
        (u.kind, u.name, str(u.parent_id) if u.parent_id else None)
        for u in session.scalars(select(Unit))
    ]


def new_unit_content(
    session: Session, kind: str, name: str, parent_id: str | None, active: bool = True
) -> dict:
    """The content of a proposal to add one unit. Raises :class:`ServiceError`: an
    unknown kind, a name empty, too long or not plain, an unknown parent, a parent of
    the wrong kind, the same unit there already."""
    checked_kind = unit_kind(kind)
    checked_name = plain(name, UNIT_NAME_MAX, "name", recorded=True)
    parent = unit_by_id(session, parent_id, "parent") if parent_id else None
    _check_place(checked_kind, parent)
    parent_key = str(parent.id) if parent else None
    _check_unique(_siblings(session), checked_kind, checked_name, parent_key)
    if active:
        added = Unit(
            id=uuid.uuid4(),
            kind=checked_kind.value,
            name=checked_name,
            parent_id=parent.id if parent else None,
            active=True,
        )
        _check_select_size(session, [added])
    return {
        "kind": checked_kind.value,
        "name": checked_name,
        "parent": parent_key,
        "active": active,
    }


def changed_unit_content(session: Session, unit: Unit, name: str, active: bool) -> dict:
    """The content of a proposal to rename a unit or to offer it or not (its kind and
    place stay). Raises as :func:`new_unit_content`, or ``NOTHING_CHANGES``."""
    checked_name = plain(name, UNIT_NAME_MAX, "name", recorded=True)
    if checked_name == unit.name and active == unit.active:
        raise ServiceError(Reason.NOTHING_CHANGES)
    others = [s for s in _siblings(session) if s != (unit.kind, unit.name, _parent_key(unit))]
    _check_unique(others, UnitKind(unit.kind), checked_name, _parent_key(unit))
    if active:
        changed = Unit(
            id=unit.id, kind=unit.kind, name=checked_name, parent_id=unit.parent_id, active=True
        )
        _check_select_size(session, [changed])
    return {"name": checked_name, "active": active}


def select_bytes(units: Iterable[Unit]) -> int:
    """How many bytes the report form's unit select takes with these units (those it
    offers: :func:`grouped_units`), at most: each option with its id, its path of names
    HTML-escaped (``html.escape``: never shorter than Jinja's escaping), and "selected";
    each group with its label."""
    total = 0
    for group in _groups(list(units), active_only=True):
        total += _GROUP_BYTES + _escaped_bytes(group.head.name if group.head else "")
        total += sum(_OPTION_BYTES + _escaped_bytes(path) for _, path in group.units)
    return total


def _escaped_bytes(text: str) -> int:
    return len(html.escape(text, quote=True).encode("utf-8"))


def _check_select_size(session: Session, changed: list[Unit]) -> None:
    """Raise ``UNITS_FORM_TOO_LARGE`` (``max``: KB) when the units there, with
    ``changed`` added or put in place of the unit of the same id, would make the report
    form's select larger than :data:`MAX_UNIT_SELECT_BYTES` and larger than it is now (a
    unit withdrawn or renamed shorter is never refused). Reads only; ``changed`` are
    transient rows, never added to the session."""
    there = list(session.scalars(select(Unit)))
    replaced = {u.id for u in changed}
    after = select_bytes([*(u for u in there if u.id not in replaced), *changed])
    if after > MAX_UNIT_SELECT_BYTES and after > select_bytes(there):
        raise ServiceError(Reason.UNITS_FORM_TOO_LARGE, "units", max=MAX_UNIT_SELECT_BYTES // 1000)


def _parent_key(unit: Unit) -> str | None:
    return str(unit.parent_id) if unit.parent_id else None


def create_unit(session: Session, content: Mapping, actor: Actor, proposal: str) -> Unit:
    """Apply an approved addition (checked again: the same unit may have been added
    meanwhile); recorded."""
    checked = new_unit_content(
        session, content["kind"], content["name"], content.get("parent"), content["active"]
    )
    return _add(session, checked, actor, proposal)


def _add(session: Session, content: Mapping, actor: Actor, proposal: str) -> Unit:
    unit = Unit(
        id=uuid.uuid4(),
        kind=content["kind"],
        name=content["name"],
        parent_id=uuid.UUID(content["parent"]) if content.get("parent") else None,
        active=bool(content.get("active", True)),
    )
    session.add(unit)
    session.flush()
    audit.append(
        session,
        actor.id,
        actor.role,
        Action.UNIT_CREATE,
        detail={
            "unit": str(unit.id),
            "kind": unit.kind,
            "name": unit.name,
            "parent": content.get("parent"),
            "proposal": proposal,
        },
    )
    return unit


def change_unit(
    session: Session, unit: Unit, content: Mapping, actor: Actor, proposal: str
) -> None:
    """Apply an approved rename or (de)activation; recorded with old and new."""
    checked = changed_unit_content(session, unit, content["name"], bool(content["active"]))
    detail: dict = {"unit": str(unit.id), "proposal": proposal}
    if checked["name"] != unit.name:
        detail |= {"renamed_from": unit.name, "name": checked["name"]}
        unit.name = checked["name"]
    if checked["active"] != unit.active:
        detail["active"] = checked["active"]
        unit.active = checked["active"]
    audit.append(session, actor.id, actor.role, Action.UNIT_UPDATE, detail=detail)


# --- importing a CSV file -----------------------------------------------------------------


@dataclass(frozen=True)
class RowProblem:
    """Why one line of an import was refused: ``line`` is 1-based, as an editor shows."""

    line: int
    error: ServiceError


class ImportRefused(ServiceError):
    """An import was refused as a whole (``problems`` empty: too large, not CSV...) or
    because of some of its rows (each in ``problems``, by line). Nothing is proposed."""

    def __init__(self, reason: Reason, problems: list[RowProblem] | None = None, **params: object):
        super().__init__(reason, "units", **params)
        self.problems = problems or []


def import_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_import(session: Session, text: str) -> dict:
    """The content of a proposal to import ``text``: a CSV file with the header
    ``kind,name,parent`` (or ``jenis,nama,induk``), one unit a line; ``parent`` the name
    of a unit already there or on an earlier line (empty: none). Returns ``{"rows": [...],
    "sha256": ...}`` in file order. Raises :class:`ImportRefused`: over
    :data:`MAX_IMPORT_BYTES` or :data:`MAX_IMPORT_ROWS`, no such header, no row, or
    rows refused (every refused row listed, not just the first), ``IMPORT_LINE_TOO_LONG``
    (``line``: over :data:`MAX_IMPORT_LINE` characters) or ``IMPORT_UNREADABLE``
    (``line``: not CSV there, e.g. a quote not closed; RFC 4180). Lines may end in CR LF
    (RFC 4180, a browser's text box), LF or CR alone (older Mac spreadsheets)."""
    if len(text.encode("utf-8")) > MAX_IMPORT_BYTES:
        raise ImportRefused(Reason.IMPORT_TOO_LARGE, max=MAX_IMPORT_BYTES // 1024)
    lines = _csv_rows(text.lstrip("\ufeff"))
    if not lines or {h.strip().casefold() for h in lines[0]} not in _HEADERS:
        raise ImportRefused(Reason.IMPORT_NOT_CSV)
    order = [h.strip().casefold() for h in lines[0]]
    body = [(number, row) for number, row in enumerate(lines[1:], start=2) if any(row)]
    if not body:
        raise ImportRefused(Reason.IMPORT_EMPTY)
    if len(body) > MAX_IMPORT_ROWS:
        raise ImportRefused(Reason.IMPORT_TOO_MANY_ROWS, max=MAX_IMPORT_ROWS)
    existing = list(session.scalars(select(Unit)))
    # (kind, name, parent key) of every unit, the file's own as they are read. A parent
    # key is a unit id or, for a unit of this file, "line:N".
    known: list[tuple[str, str, str | None]] = [(u.kind, u.name, _parent_key(u)) for u in existing]
    named: list[tuple[str, str, str]] = [(u.name, u.kind, str(u.id)) for u in existing]
    rows: list[dict] = []
    problems: list[RowProblem] = []
    for number, row in body:
        try:
            if len(row) != len(order):
                raise ServiceError(Reason.IMPORT_ROW_SHAPE, "units")
            values = dict(zip(order, row, strict=True))
            kind = unit_kind(values.get("kind", values.get("jenis", "")))
            name = plain(
                values.get("name", values.get("nama", "")), UNIT_NAME_MAX, "name", recorded=True
            )
            parent_name = " ".join(values.get("parent", values.get("induk", "")).split())
            parent_key, parent_kind = _parent_named(named, parent_name)
            if (UnitKind(parent_kind) if parent_kind else None) not in PARENT_KINDS[kind]:
                raise ServiceError(Reason.UNIT_PARENT_WRONG, "parent", kind=kind.value)
            _check_unique(known, kind, name, parent_key)
        except ServiceError as error:
            problems.append(RowProblem(number, error))
            continue
        known.append((kind.value, name, parent_key))
        named.append((name, kind.value, f"line:{number}"))
        rows.append({"line": number, "kind": kind.value, "name": name, "parent": parent_key})
    if problems:
        raise ImportRefused(Reason.IMPORT_HAS_PROBLEMS, problems, count=len(problems))
    _check_import_size(session, rows)
    return {"rows": rows, "sha256": import_digest(text)}


def _check_import_size(session: Session, rows: list[dict]) -> None:
    """:func:`_check_select_size` with an import's ``rows`` added (as transient rows),
    raised as an :class:`ImportRefused`."""
    ids = {f"line:{row['line']}": uuid.uuid4() for row in rows}

    def parent_of(row: Mapping) -> uuid.UUID | None:
        key = row.get("parent")
        return (ids.get(key) or uuid.UUID(key)) if key else None

    added = [
        Unit(id=ids[f"line:{row['line']}"], kind=row["kind"], name=row["name"], active=True)
        for row in rows
    ]
    for unit, row in zip(added, rows, strict=True):
        unit.parent_id = parent_of(row)
    try:
        _check_select_size(session, added)
    except ServiceError as error:
        raise ImportRefused(error.reason, max=error.params["max"]) from None


def _csv_rows(text: str) -> list[list[str]]:
    """The rows of ``text`` as the csv module reads them, its line endings (CR LF, LF or
    CR) read alike; raises :class:`ImportRefused` naming the physical line (1-based) that
    is longer than :data:`MAX_IMPORT_LINE`, or where the row that cannot be read as CSV
    begins."""
    text = io.StringIO(text, newline=None).read()  # universal newlines: CR LF, CR → LF
    for number, line in enumerate(text.split("\n"), start=1):
        if len(line) > MAX_IMPORT_LINE:
            raise ImportRefused(
                Reason.IMPORT_LINE_TOO_LONG,
                line=number,
                max=MAX_IMPORT_LINE,
                name_max=UNIT_NAME_MAX,
            )
    reader = csv.reader(io.StringIO(text))
    rows = []
    while True:
        start = reader.line_num + 1  # where the row being read begins
        try:
            rows.append(next(reader))
        except StopIteration:
            return rows
        except csv.Error:  # e.g. a quote never closed, the rest one value past csv's limit
            raise ImportRefused(Reason.IMPORT_UNREADABLE, line=start) from None


def _parent_named(named: list[tuple[str, str, str]], name: str) -> tuple[str | None, str | None]:
    """(key, kind) of the one unit called ``name``; (None, None) for an empty name."""
    if not name:
        return None, None
    found = [(key, kind) for other, kind, key in named if same_words(other, name)]
    if not found:
        raise ServiceError(Reason.UNIT_PARENT_NOT_FOUND, "parent", name=name)
    if len(found) > 1:
        raise ServiceError(Reason.UNIT_PARENT_AMBIGUOUS, "parent", name=name)
    return found[0]


def apply_import(session: Session, content: Mapping, actor: Actor, proposal: str) -> list[Unit]:
    """Apply an approved import: every row added in file order, each recorded; refused
    as a whole (nothing added) if a row no longer fits (the same unit added meanwhile),
    or if the report form would now grow past its size (units added meanwhile)."""
    _check_import_size(session, list(content["rows"]))
    known = _siblings(session)
    created: dict[str, str] = {}  # "line:N" → the new unit's id
    units = []
    for row in content["rows"]:
        parent = row.get("parent")
        parent = created.get(parent, parent) if parent else None
        try:
            _check_unique(known, UnitKind(row["kind"]), row["name"], parent)
        except ServiceError as error:
            raise ImportRefused(
                Reason.IMPORT_HAS_PROBLEMS, [RowProblem(row["line"], error)], count=1
            ) from None
        unit = _add(session, {**row, "parent": parent, "active": True}, actor, proposal)
        created[f"line:{row['line']}"] = str(unit.id)
        known.append((unit.kind, unit.name, parent))
        units.append(unit)
    return units


# --- what the portals show ----------------------------------------------------------------


@dataclass(frozen=True)
class UnitGroup:
    """Units offered together (an ``<optgroup>``): a Kota Administrasi with everything
    under it, or the SKPDs without a city. ``units`` are (unit, its path of names)."""

    head: Unit | None  # the Kota Administrasi; None: city-wide SKPDs
    units: list[tuple[Unit, str]]


def grouped_units(session: Session, *, active_only: bool = True) -> list[UnitGroup]:
    """The units for a select, grouped by Kota Administrasi (the city itself first,
    then its SKPDs, kecamatan and each kecamatan's kelurahan, by name), city-wide SKPDs
    first. With ``active_only``, a unit under an inactive one is not offered either."""
    return _groups(list(session.scalars(select(Unit).order_by(Unit.name))), active_only)


def _groups(every: list[Unit], active_only: bool) -> list[UnitGroup]:
    """:func:`grouped_units` of ``every`` (in the order given)."""
    by_id = {u.id: u for u in every}
    offered = [u for u in every if u.active or not active_only]
    children: dict[uuid.UUID | None, list[Unit]] = {}
    for unit in offered:
        children.setdefault(unit.parent_id, []).append(unit)

    def path(unit: Unit) -> str:
        names = [unit.name]
        parent = by_id.get(unit.parent_id) if unit.parent_id else None
        while parent is not None and parent.kind != UnitKind.CITY and len(names) < _DEPTH:
            names.append(parent.name)
            parent = by_id.get(parent.parent_id) if parent.parent_id else None
        return " — ".join(reversed(names))

    def under(unit_id: uuid.UUID, depth: int = 1) -> list[tuple[Unit, str]]:
        found: list[tuple[Unit, str]] = []
        kids = children.get(unit_id, []) if depth < _DEPTH else []
        for kind in (UnitKind.SKPD, UnitKind.DISTRICT, UnitKind.SUBDISTRICT):
            for kid in (k for k in kids if k.kind == kind):
                found.append((kid, path(kid)))
                found += under(kid.id, depth + 1)
        return found

    groups = []
    citywide = [(u, u.name) for u in children.get(None, []) if u.kind == UnitKind.SKPD]
    if citywide:
        groups.append(UnitGroup(None, citywide))
    for city in (u for u in children.get(None, []) if u.kind == UnitKind.CITY):
        groups.append(UnitGroup(city, [(city, city.name), *under(city.id)]))
    return groups


def unit_path(session: Session, unit_id: str) -> str | None:
    """A unit as staff read it: its names from the Kota Administrasi down, joined by
    " — "; None for no unit (an empty id) or one that is gone."""
    if not unit_id:
        return None
    try:
        unit = session.get(Unit, uuid.UUID(unit_id))
    except ValueError:
        return None
    names: list[str] = []
    while unit is not None and len(names) < _DEPTH:  # bounded: a loop written into the database
        names.append(unit.name)
        unit = session.get(Unit, unit.parent_id) if unit.parent_id else None
    return " — ".join(reversed(names)) if names else None


_DEPTH = 3  # Kota Administrasi, kecamatan, kelurahan: no unit sits deeper
