"""Fixtures of the service tests: a session on the module's database whose transaction
is rolled back after each test (services never commit; the caller does), and an
offline recovery key pair."""

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from sipadu.crypto import PrivateKey, new_keypair
from tests.helpers import database


@pytest.fixture
def session(database_url) -> Iterator[Session]:
    with database(database_url) as session:
        yield session
        session.rollback()


@pytest.fixture(scope="module")
def recovery() -> PrivateKey:
    return new_keypair()
