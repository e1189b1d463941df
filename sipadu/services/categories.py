"""Report categories (seeded with the instance) and which investigators new reports in
each are wrapped to."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action, Actor
from sipadu.persistence.models import (
    AccountState,
    Category,
    CategoryRoute,
    CategorySlug,
    Role,
    StaffAccount,
)
from sipadu.services import Reason, ServiceError
from sipadu.services.key_ring import display_fingerprint, key_fingerprint


def seed_categories(session: Session, actor: Actor) -> list[str]:
    """Create the four categories if missing; return the slugs created."""
    existing = set(session.scalars(select(Category.slug)))
    created = [slug.value for slug in CategorySlug if slug.value not in existing]
    for slug in created:
        session.add(Category(slug=slug))
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
    """Whether reports of the kind ``slug`` are accepted now (False for an unknown one)."""
    return bool(session.scalar(select(Category.active).where(Category.slug == slug)))


def _route_detail(category: Category, account: StaffAccount) -> dict:
    return {
        "category": category.slug,
        "account": str(account.id),
        "username": account.username,
        "fingerprint": key_fingerprint(account),
    }


def add_route(session: Session, category: Category, account: StaffAccount, actor: Actor) -> bool:
    """Route new reports in ``category`` to ``account``; False if already routed.

    Only an active investigator with a key pair can receive reports: a report wrapped to
    nobody who can open it would be silently unreadable.
    """
    if Role.INVESTIGATOR not in account.role_set:
        raise ServiceError(Reason.NOT_AN_INVESTIGATOR, name=account.username)
    if not account.active or account.public_key is None:
        raise ServiceError(Reason.NOT_ACTIVE_WITH_KEY, name=account.username)
    if session.get(CategoryRoute, (category.id, account.id)) is not None:
        return False
    session.add(CategoryRoute(category_id=category.id, account_id=account.id))
    audit.append(
        session, actor.id, actor.role, Action.ROUTE_ADD, detail=_route_detail(category, account)
    )
    return True


def remove_route(session: Session, category: Category, account: StaffAccount, actor: Actor) -> bool:
    route = session.get(CategoryRoute, (category.id, account.id))
    if route is None:
        return False
    session.delete(route)
    audit.append(
        session, actor.id, actor.role, Action.ROUTE_REMOVE, detail=_route_detail(category, account)
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
    """Every category with its current recipients and their key fingerprints."""
    rows = []
    for slug in CategorySlug:
        category = category_by_slug(session, slug.value)
        rows.append(
            (category, [(a, display_fingerprint(a)) for a in recipients(session, category)])
        )
    return rows


def set_accepting(session: Session, category: Category, accepting: bool, actor: Actor) -> bool:
    """Stop or resume accepting reports in ``category``, in the caller's transaction;
    returns the state. The value is set, never flipped: the same form sent twice (a
    double click, a resend) changes nothing the second time and records nothing."""
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
