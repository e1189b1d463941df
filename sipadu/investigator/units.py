"""Admin pages for reported units (issue 18): the units reporters may name as "unit
concerned", and proposals to add, rename, withdraw or import them (a CSV file, one
proposal). A second admin approves each on the proposals page."""

from flask import g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from sipadu.accountability.audit import Actor
from sipadu.investigator.blueprint import bp
from sipadu.investigator.forms import SelectChoice, UnitChangeForm, UnitForm, UnitImportForm
from sipadu.investigator.policy import Policy, requires
from sipadu.investigator.words import said
from sipadu.persistence.models import Role, UnitKind
from sipadu.services import ServiceError
from sipadu.services import proposals as proposals_service
from sipadu.services.units import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    ImportRefused,
    grouped_units,
    unit_by_id,
)
from sipadu.web.context import db_session, transaction
from sipadu.web.formdata import MemoryPart, Refusal, UploadRefused, receive_files, receives_files
from sipadu.web.refusal_messages import message


def _actor() -> Actor:
    return Actor(str(g.staff.account.id), Role.ADMIN.value)


def _choices(add: UnitForm, change: UnitChangeForm) -> None:
    groups = grouped_units(db_session(), active_only=False)
    every = [(unit, path) for group in groups for unit, path in group.units]
    add.kind.choices = [SelectChoice(k.value, said(k.value, "unit_kind")) for k in UnitKind]
    add.parent.choices = [
        SelectChoice("", _("Nothing (a Kota Administrasi, or a city-wide SKPD)"))
    ] + [
        SelectChoice(str(u.id), f"{path} ({said(u.kind, 'unit_kind')})")
        for u, path in every
        if u.kind in (UnitKind.CITY, UnitKind.DISTRICT)
    ]
    change.unit.choices = [
        SelectChoice(str(u.id), f"{path} ({said(u.kind, 'unit_kind')})") for u, path in every
    ]


def _units_page(
    add: UnitForm | None = None,
    change: UnitChangeForm | None = None,
    imported: UnitImportForm | None = None,
    problems: list[tuple[int, str]] | None = None,
) -> str:
    """The units page; a refused form comes back as it was sent, its reasons beside its
    fields (an import's, each refused line by number, the text in the page)."""
    add = add or UnitForm(formdata=None)
    change = change or UnitChangeForm(formdata=None)
    _choices(add, change)
    # Two forms on one page: ids of their own, so a label names its own field.
    add.name.id, add.parent.id = "add-name", "add-parent"
    change.unit.id, change.name.id = "change-unit", "change-name"
    session = db_session()
    waiting = [
        p
        for p in proposals_service.pending(session)
        if p.kind in ("unit_add", "unit_change", "unit_import")
    ]
    return render_template(
        "staff/admin/units.html",
        groups=grouped_units(session, active_only=False),
        waiting=waiting,
        contents={p.id: proposals_service.content_of(p) for p in waiting},
        add=add,
        change=change,
        imported=imported or UnitImportForm(formdata=None),
        problems=problems or [],
        max_rows=MAX_IMPORT_ROWS,
        max_kb=MAX_IMPORT_BYTES // 1024,
    )


@bp.get("/admin/units")
@requires(Policy.ADMIN)
def admin_units() -> str:
    return _units_page()


def _done() -> ResponseReturnValue:
    return redirect(url_for("staff.admin_units", _anchor="waiting"), code=303)


@bp.post("/admin/units")
@requires(Policy.ADMIN)
def admin_propose_unit() -> ResponseReturnValue:
    form = UnitForm()
    _choices(form, UnitChangeForm(formdata=None))
    if not form.validate_on_submit():
        return _units_page(add=form), 400
    try:
        with transaction(write=True) as writing:
            proposals_service.propose_unit(
                writing,
                form.kind.data or "",
                form.name.data or "",
                form.parent.data or None,
                _actor(),
            )
    except ServiceError as exc:
        (form[exc.field] if exc.field in form else form.name).errors = [message(exc)]
        return _units_page(add=form), 400
    return _done()


@bp.post("/admin/units/change")
@requires(Policy.ADMIN)
def admin_propose_unit_change() -> ResponseReturnValue:
    form = UnitChangeForm()
    _choices(UnitForm(formdata=None), form)
    if not form.validate_on_submit():
        return _units_page(change=form), 400
    try:
        with transaction(write=True) as writing:
            unit = unit_by_id(writing, form.unit.data)
            proposals_service.propose_unit_change(
                writing, unit, form.name.data or "", bool(form.offered.data), _actor()
            )
    except ServiceError as exc:
        (form[exc.field] if exc.field in form else form.name).errors = [message(exc)]
        return _units_page(change=form), 400
    return _done()


def _import_part(index: int, _filename: str, _content_type: str) -> MemoryPart:
    if index >= 1:
        raise UploadRefused(Refusal.TOO_MANY_FILES)
    return MemoryPart(MAX_IMPORT_BYTES)


@bp.post("/admin/units/import")
@requires(Policy.ADMIN)
@receives_files("upload", _import_part)
def admin_propose_unit_import() -> ResponseReturnValue:
    """One proposal for a whole CSV file (chosen, or pasted). A refused file comes back
    in the page's text box with every refused line named, to be corrected there."""
    refused = receive_files()
    form = UnitImportForm()
    if refused is not None:
        form.upload.errors = [
            _("The file is too large: at most %(kb)d KB.", kb=MAX_IMPORT_BYTES // 1024)
        ]
        return _units_page(imported=form), 400
    if not form.validate_on_submit():
        return _units_page(imported=form), 400
    text = form.text.data or ""
    upload = request.files.get("upload")
    if upload is not None and upload.filename:
        try:
            text = upload.read(MAX_IMPORT_BYTES + 1).decode("utf-8")
        except UnicodeDecodeError:
            form.upload.errors = [_("The file is not UTF-8 text. Save it as CSV (UTF-8).")]
            return _units_page(imported=form), 400
    form.text.data = text  # whatever is refused stays in the page to correct
    try:
        with transaction(write=True) as writing:
            proposals_service.propose_unit_import(writing, text, _actor())
    except ImportRefused as exc:
        form.text.errors = [message(exc)]
        problems = [(p.line, message(p.error)) for p in exc.problems]
        return _units_page(imported=form, problems=problems), 400
    except ServiceError as exc:
        form.text.errors = [message(exc)]
        return _units_page(imported=form), 400
    return _done()
