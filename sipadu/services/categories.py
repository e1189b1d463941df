"""Report categories and which investigators new reports in each are wrapped to."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.models import Category, CategoryRoute, CategorySlug, Role, StaffAccount
from sipadu.services import ServiceError


def seed_categories(session: Session) -> list[str]:
    """Create the four categories if missing; return the slugs created."""
    existing = set(session.scalars(select(Category.slug)))
    created = [slug.value for slug in CategorySlug if slug.value not in existing]
    session.add_all(Category(slug=slug) for slug in created)
    return created


def category_by_slug(session: Session, slug: str) -> Category:
    category = session.scalar(select(Category).where(Category.slug == slug))
    if category is None:
        raise ServiceError(f"unknown category {slug!r}")
    return category


def add_route(session: Session, category: Category, account: StaffAccount) -> bool:
    """Route new reports in ``category`` to ``account``; False if already routed.

    Only an active investigator with a key pair can receive reports: a report wrapped to
    nobody who can open it would be silently unreadable.
    """
    if Role.INVESTIGATOR not in account.role_set:
        raise ServiceError(f"{account.username} is not an investigator")
    if not account.active or account.public_key is None:
        raise ServiceError(f"{account.username} is not active or has no key yet")
    if session.get(CategoryRoute, (category.id, account.id)) is not None:
        return False
    session.add(CategoryRoute(category_id=category.id, account_id=account.id))
    return True


def remove_route(session: Session, category: Category, account: StaffAccount) -> bool:
    route = session.get(CategoryRoute, (category.id, account.id))
    if route is None:
        return False
    session.delete(route)
    return True


def recipients(session: Session, category: Category) -> list[StaffAccount]:
    """Active investigators that new reports in ``category`` are wrapped to."""
    return list(
        session.scalars(
            select(StaffAccount)
            .join(CategoryRoute, CategoryRoute.account_id == StaffAccount.id)
            .where(CategoryRoute.category_id == category.id, StaffAccount.active.is_(True))
            .order_by(StaffAccount.username)
        )
    )
