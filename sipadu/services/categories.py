"""Report categories (the four statutory ones seeded with the instance, others and
sub-categories added by admins: issue 18) and which investigators new reports in each
are wrapped to.

A category's words (label, description, examples; Indonesian and English) are plain
text (:mod:`sipadu.services.plain_text`). The four statutory categories store none
until an admin changes them: the portals then show the code's translated words
(sipadu/web/reporter_forms.py), so they stay worded in both languages. No category is ever
deleted (reports refer to theirs): one that should no longer be chosen is made inactive.
Sub-categories are one level deep: a sub-category's parent is a top-level category.
"""

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action, Actor
from sipadu.persistence.models import (
    CATEGORY_LABEL_MAX,
    CATEGORY_TEXT_MAX,
    AccountState,
    Category,
    CategoryRoute,
    CategorySlug,
    Role,
    StaffAccount,
    Unit,
    UnitRoute,
)
from sipadu.services import Reason, ServiceError
from sipadu.services.key_ring import display_fingerprint, key_fingerprint
from sipadu.services.plain_text import plain, same_words


def seed_categories(session: Session, actor: Actor) -> list[str]:
    """Create the four categories if missing; return the slugs created."""
    existing = set(session.scalars(select(Category.slug)))
    created = [slug.value for slug in CategorySlug if slug.value not in existing]
    for slug in created:
        session.add(Category(slug=slug, statutory=True))
        audit.append(
            session, actor.id, actor.role, Action.CATEGORY_CREATE, detail={"category": slug}
        )
    return created


def seed_instance(session: Session, actor: Actor, version: str, demo: bool) -> list[str]:
    """A new or re-initialised instance: ``system.init`` recorded (the version, whether
    demo accounts follow), then the categories seeded; returns the slugs created."""
    audit.append(
        session, actor.id, actor.role, Action.SYSTEM_INIT, detail={"version": version, "demo": demo}
    )
    return seed_categories(session, actor)


def category_by_slug(session: Session, slug: str) -> Category:
    category = session.scalar(select(Category).where(Category.slug == slug))
    if category is None:
        raise ServiceError(Reason.UNKNOWN_CATEGORY, category=slug)
    return category


def category_open(session: Session, slug: str) -> bool:
    """Whether reports of the kind ``slug`` are accepted now (False for an unknown one,
    and for a sub-category of a category that accepts none)."""
    category = session.scalar(select(Category).where(Category.slug == slug))
    if category is None or not category.active:
        return False
    if category.parent_id is None:
        return True
    return bool(session.scalar(select(Category.active).where(Category.id == category.parent_id)))


def _route_detail(category: Category | None, account: StaffAccount, unit: Unit | None) -> dict:
    detail: dict = {}
    if category is not None:
        detail["category"] = category.slug
    if unit is not None:
        detail |= {"unit": str(unit.id), "unit_name": unit.name}
    return detail | {
        "account": str(account.id),
        "username": account.username,
        "fingerprint": key_fingerprint(account),
    }


def find_route(
    session: Session, category: Category | None, account: StaffAccount, unit: Unit | None = None
) -> CategoryRoute | UnitRoute | None:
    """The route to ``account`` for exactly this target: a category (a
    :class:`CategoryRoute`), a unit, or a unit and a category (a :class:`UnitRoute`)."""
    if unit is None:
        if category is None:
            raise ServiceError(Reason.ROUTE_NEEDS_TARGET)
        return session.get(CategoryRoute, (category.id, account.id))
    return session.scalar(
        select(UnitRoute).where(
            UnitRoute.unit_id == unit.id,
            UnitRoute.account_id == account.id,
            (UnitRoute.category_id == category.id)
            if category is not None
            else UnitRoute.category_id.is_(None),
        )
    )


def add_route(
    session: Session,
    category: Category | None,
    account: StaffAccount,
    actor: Actor,
    unit: Unit | None = None,
) -> bool:
    """Route new reports in ``category`` (and/or concerning ``unit``: issue 18; the most
    specific route wins, :func:`sipadu.services.key_ring.routed_investigators`) to
    ``account``; False if already routed. Raises ``ROUTE_NEEDS_TARGET`` without either.

    Only an active investigator with a key pair can receive reports: a report wrapped to
    nobody who can open it would be silently unreadable.
    """
    if Role.INVESTIGATOR not in account.role_set:
        raise ServiceError(Reason.NOT_AN_INVESTIGATOR, name=account.username)
    if not account.active or account.public_key is None:
        raise ServiceError(Reason.NOT_ACTIVE_WITH_KEY, name=account.username)
    if find_route(session, category, account, unit) is not None:
        return False
    if unit is None:
        assert category is not None  # find_route refused a route without a target
        session.add(CategoryRoute(category_id=category.id, account_id=account.id))
    else:
        session.add(
            UnitRoute(
                id=uuid.uuid4(),
                unit_id=unit.id,
                category_id=category.id if category is not None else None,
                account_id=account.id,
            )
        )
    audit.append(
        session,
        actor.id,
        actor.role,
        Action.ROUTE_ADD,
        detail=_route_detail(category, account, unit),
    )
    return True


def remove_route(
    session: Session,
    category: Category | None,
    account: StaffAccount,
    actor: Actor,
    unit: Unit | None = None,
) -> bool:
    route = find_route(session, category, account, unit)
    if route is None:
        return False
    session.delete(route)
    audit.append(
        session,
        actor.id,
        actor.role,
        Action.ROUTE_REMOVE,
        detail=_route_detail(category, account, unit),
    )
    return True


def recipients(session: Session, category: Category) -> list[StaffAccount]:
    """Active investigators that new reports in ``category`` are wrapped to."""
    return list(
        session.scalars(
            select(StaffAccount)
            .join(CategoryRoute, CategoryRoute.account_id == StaffAccount.id)
            .where(
                CategoryRoute.category_id == category.id,
                (StaffAccount.state == AccountState.ACTIVE.value),
            )
            .order_by(StaffAccount.username)
        )
    )


def routing_table(session: Session) -> list[tuple[Category, list[tuple[StaffAccount, str | None]]]]:
    """Every category (each top-level one, then its sub-categories: :func:`in_order`)
    with its current recipients and their key fingerprints."""
    return [
        (category, [(a, display_fingerprint(a)) for a in recipients(session, category)])
        for category in in_order(session)
    ]


@dataclass(frozen=True)
class UnitRouteRow:
    """One route by unit: its unit, its category (None: every category) and the active
    investigator it names, with the key fingerprint."""

    unit: Unit
    category: Category | None
    account: StaffAccount
    fingerprint: str | None


def unit_routing_table(session: Session) -> list[UnitRouteRow]:
    """Every route by unit to an active investigator, by unit name, then category."""
    rows = session.execute(
        select(UnitRoute, Unit, StaffAccount)
        .join(Unit, Unit.id == UnitRoute.unit_id)
        .join(StaffAccount, StaffAccount.id == UnitRoute.account_id)
        .where(StaffAccount.state == AccountState.ACTIVE.value)
        .order_by(Unit.name, StaffAccount.username)
    ).all()
    return [
        UnitRouteRow(
            unit,
            session.get(Category, route.category_id) if route.category_id else None,
            account,
            display_fingerprint(account),
        )
        for route, unit, account in rows
    ]


# --- categories that admins configure (issue 18) ---------------------------------------

STATUTORY_ORDER = [slug.value for slug in CategorySlug]


@dataclass(frozen=True)
class CategoryWords:
    """What reporters read of a category, in both languages; plain text, normalised
    (:func:`checked_words`)."""

    label_id: str = ""
    label_en: str = ""
    description_id: str = ""
    description_en: str = ""
    examples_id: str = ""
    examples_en: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


WORD_FIELDS = tuple(CategoryWords.__dataclass_fields__)


def checked_words(typed: Mapping[str, str], *, statutory: bool = False) -> CategoryWords:
    """The words typed for a category, normalised (:func:`plain_text.plain`). Both labels
    are required, except for a statutory category, whose empty words mean the code's
    translated ones. Raises :class:`ServiceError` naming the field (``label_id``, ...)."""
    values = {}
    for name in WORD_FIELDS:
        label = name.startswith("label")
        values[name] = plain(
            typed.get(name, ""),
            CATEGORY_LABEL_MAX if label else CATEGORY_TEXT_MAX,
            name,
            required=label and not statutory,
            recorded=label,  # the audit log records the labels
        )
    return CategoryWords(**values)


def words_of(category: Category) -> CategoryWords:
    return CategoryWords(**{name: getattr(category, name) for name in WORD_FIELDS})


def in_order(session: Session, *, active_only: bool = False) -> list[Category]:
    """Every category as the reporter's form and the admin pages list them: the four
    statutory ones first (in their order), then the added top-level ones (by English
    label), each followed by its sub-categories (by English label)."""
    every = list(session.scalars(select(Category)))
    if active_only:
        every = [c for c in every if c.active]

    def key(c: Category) -> tuple[int, str]:
        if c.slug in STATUTORY_ORDER:
            return (STATUTORY_ORDER.index(c.slug), "")
        return (len(STATUTORY_ORDER), (c.label_en or c.label_id).casefold())

    tops = sorted((c for c in every if c.parent_id is None), key=key)
    ordered: list[Category] = []
    for top in tops:
        ordered.append(top)
        ordered += sorted((c for c in every if c.parent_id == top.id), key=key)
    return ordered


def category_by_id(session: Session, category_id: uuid.UUID | str | None) -> Category:
    """The category with this id; raises ``NO_SUCH_CATEGORY`` (a stale or crafted form)."""
    try:
        category = session.get(Category, uuid.UUID(str(category_id)))
    except ValueError:
        category = None
    if category is None:
        raise ServiceError(Reason.NO_SUCH_CATEGORY, "category")
    return category


def _check_parent(session: Session, parent_id: str | None) -> Category | None:
    if not parent_id:
        return None
    parent = category_by_id(session, parent_id)
    if parent.parent_id is not None:
        raise ServiceError(Reason.PARENT_NOT_TOP_LEVEL, "parent")
    return parent


def _check_labels_free(
    session: Session, words: CategoryWords, parent_id: uuid.UUID | None, itself: uuid.UUID | None
) -> None:
    """Two categories side by side (top-level, or under the same parent) worded the same
    would leave a reporter guessing which one they chose."""
    siblings = session.scalars(
        select(Category).where(
            Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id
        )
    )
    for other in siblings:
        if other.id == itself:
            continue
        for name in ("label_id", "label_en"):
            mine = getattr(words, name)
            if mine and same_words(getattr(other, name), mine):
                raise ServiceError(Reason.CATEGORY_LABEL_TAKEN, name, label=mine)


def new_category_content(
    session: Session, typed: Mapping[str, str], parent_id: str | None, active: bool
) -> dict:
    """The content of a proposal to add a category (``parent_id`` None or "") or a
    sub-category of ``parent_id``: the checked words, the parent's id and whether it is
    offered to reporters. Raises :class:`ServiceError` (a field's problem, an unknown
    parent, a parent that is itself a sub-category, a label taken)."""
    words = checked_words(typed)
    parent = _check_parent(session, parent_id)
    _check_labels_free(session, words, parent.id if parent else None, None)
    return {"parent": str(parent.id) if parent else None, "active": active, **words.as_dict()}


def changed_category_content(
    session: Session, category: Category, typed: Mapping[str, str], active: bool
) -> dict:
    """The content of a proposal to change a category's words or whether it is offered
    (never its parent, nor its place among the statutory ones). Raises
    :class:`ServiceError` as :func:`new_category_content`, or ``NOTHING_CHANGES``."""
    words = checked_words(typed, statutory=category.statutory)
    _check_labels_free(session, words, category.parent_id, category.id)
    if words == words_of(category) and active == category.active:
        raise ServiceError(Reason.NOTHING_CHANGES)
    return {"active": active, **words.as_dict()}


def create_category(session: Session, content: Mapping, actor: Actor, proposal: str) -> Category:
    """Apply an approved proposal to add a category (in the caller's transaction): its
    words checked again (the parent may have gone inactive, another category may have
    taken the label meanwhile), a random slug, recorded with its words."""
    words = checked_words(content)
    parent = _check_parent(session, content.get("parent"))
    _check_labels_free(session, words, parent.id if parent else None, None)
    category = Category(
        id=uuid.uuid4(),
        slug=uuid.uuid4().hex,
        parent_id=parent.id if parent else None,
        statutory=False,
        active=bool(content.get("active", True)),
        **words.as_dict(),
    )
    session.add(category)
    session.flush()
    detail: dict = {"category": category.slug, "proposal": proposal}
    if parent is not None:
        detail["parent"] = parent.slug
    detail |= {"active": category.active, "label_id": words.label_id, "label_en": words.label_en}
    audit.append(session, actor.id, actor.role, Action.CATEGORY_CREATE, detail=detail)
    return category


def change_category(
    session: Session, category: Category, content: Mapping, actor: Actor, proposal: str
) -> None:
    """Apply an approved change of a category's words or of whether it is offered;
    recorded with the names of the words that changed and the labels now."""
    words = checked_words(content, statutory=category.statutory)
    _check_labels_free(session, words, category.parent_id, category.id)
    before = words_of(category).as_dict()
    changed = [name for name, value in words.as_dict().items() if before[name] != value]
    active = bool(content.get("active", category.active))
    for name, value in words.as_dict().items():
        setattr(category, name, value)
    # The names as they are now, and which words changed (the proposal keeps them all).
    detail: dict = {
        "category": category.slug,
        "proposal": proposal,
        "changed": changed,
        "label_id": words.label_id,
        "label_en": words.label_en,
    }
    if active != category.active:
        category.active = active
        detail["accepting_reports"] = active
    audit.append(session, actor.id, actor.role, Action.CATEGORY_UPDATE, detail=detail)


def configured_words(session: Session) -> dict[str, tuple[Category, CategoryWords]]:
    """Slug → (category, its stored words), for every category: what the portals show
    (a statutory category with empty words: the code's translated ones)."""
    return {c.slug: (c, words_of(c)) for c in session.scalars(select(Category))}


def set_accepting(session: Session, category: Category, accepting: bool, actor: Actor) -> bool:
    """Stop or resume accepting reports in ``category``, in the caller's transaction;
    returns the state. No page calls it: through the web this is a category-change
    proposal a second admin approves (issue 18 item 2, docs/staff.md "Categories, units
    and routing"); the services' tests close a category with it. The value is set, never
    flipped: the same call twice changes nothing the second time and records nothing."""
    if category.active == accepting:
        return accepting
    category.active = accepting
    audit.append(
        session,
        actor.id,
        actor.role,
        Action.CATEGORY_UPDATE,
        detail={"category": category.slug, "accepting_reports": category.active},
    )
    return category.active
