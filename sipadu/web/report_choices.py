"""The choices of the report form that admins configure (issue 18): the categories and
their sub-categories, and the units a report may concern, read for each page. Both the
reporter's form and the operator's intake form (which is the reporter's form plus the
channel and office) load them here, so both offer the same choices.

Without JavaScript and with hundreds of units: the categories are radio buttons with
their description and examples; the sub-category is one ``<select>`` grouped by
category (``<optgroup>``), the unit one grouped by Kota Administrasi. A browser finds an
option by typing its first letters. The form's values are slugs and unit ids; a refused
or switched form shows the same choices with the typed ones still chosen.
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

from sipadu.persistence.models import Category
from sipadu.services import Reason, ServiceError
from sipadu.services.categories import in_order, words_of
from sipadu.services.units import UnitGroup, grouped_units
from sipadu.web.context import transaction
from sipadu.web.refusal_messages import message
from sipadu.web.reporter_forms import CATEGORIES, ReportForm
from sipadu.web.words import category_label, in_language

NONE = ""


@dataclass(frozen=True)
class Shown:
    """A category as the form shows it: label, description, examples, in the reader's
    language (stored words, else the code's translated ones for a statutory one)."""

    slug: str
    label: str
    description: str
    examples: str


@dataclass(frozen=True)
class FormChoices:
    categories: dict[str, Shown]  # top-level, offered, in order
    subcategories: list[tuple[Shown, list[Shown]]]  # (category, its offered sub-categories)
    units: list[UnitGroup]
    parents: dict[str, str]  # sub-category slug → its category's slug


def _shown(category: Category) -> Shown:
    words = words_of(category)
    code = CATEGORIES.get(category.slug)
    description = in_language(words.description_id, words.description_en)
    examples = in_language(words.examples_id, words.examples_en)
    return Shown(
        category.slug,
        category_label(category.slug),
        description or (str(code[1]) if code else ""),
        examples or (str(code[2]) if code else ""),
    )


def load_choices(form: ReportForm) -> FormChoices:
    """Read the offered categories and units and set the form's choices (before it is
    validated or drawn). A category no longer accepting reports stays a valid value (so
    a form chosen before it closed is told so, beside the field, by the view), but is
    not drawn."""
    with transaction() as session:
        every = in_order(session)
        by_id = {c.id: c for c in every}
        open_ids = {
            c.id for c in every if c.active and (c.parent_id is None or by_id[c.parent_id].active)
        }
        tops = [c for c in every if c.parent_id is None and c.id in open_ids]
        subs = [c for c in every if c.parent_id is not None and c.id in open_ids]
        groups = grouped_units(session)
        shown = {c.slug: _shown(c) for c in every}
        parents = {c.slug: by_id[c.parent_id].slug for c in every if c.parent_id}
    form.category.choices = [
        SelectChoice(c.slug, shown[c.slug].label) for c in every if c.parent_id is None
    ]
    form.subcategory.choices = [SelectChoice(NONE, str(_l("None of these / not sure")))] + [
        SelectChoice(c.slug, shown[c.slug].label) for c in every if c.parent_id is not None
    ]
    form.unit.choices = [SelectChoice(NONE, str(_l("Not given / not sure")))] + [
        SelectChoice(str(unit.id), path) for group in groups for unit, path in group.units
    ]
    return FormChoices(
        {c.slug: shown[c.slug] for c in tops},
        [
            (shown[top.slug], [shown[s.slug] for s in subs if s.parent_id == top.id])
            for top in tops
            if any(s.parent_id == top.id for s in subs)
        ],
        groups,
        parents,
    )


def sub_category_fits(form: ReportForm, choices: FormChoices) -> bool:
    """Whether the sub-category chosen (if any) is one of the chosen category's; if not,
    the reason (``SUBCATEGORY_OF_OTHER``) is set beside it and nothing may be stored."""
    sub = form.subcategory.data
    if not sub or choices.parents.get(sub) == form.category.data:
        return True
    form.subcategory.errors = [message(ServiceError(Reason.SUBCATEGORY_OF_OTHER, "subcategory"))]
    return False


def chosen_category(form: ReportForm) -> str:
    """The most precise category chosen: the sub-category's slug if one is chosen (its
    routing and its being open count, issue 18), else the category's."""
    return str(form.subcategory.data or form.category.data or "")
