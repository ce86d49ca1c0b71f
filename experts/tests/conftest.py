"""Fixtures of the experts tests."""

import pytest

from experts.tests.factories import CategoryFactory, StaffFactory


@pytest.fixture
def staff(db):
    return StaffFactory(first_name="Sam", last_name="Staff", email="sam@lyceum.example")


@pytest.fixture
def maths(db):
    return CategoryFactory(name="Mathematics", slug="mathematics")


@pytest.fixture
def physics(db):
    return CategoryFactory(name="Physics", slug="physics")


@pytest.fixture
def closed(db):
    return CategoryFactory(name="Alchemy", slug="alchemy", is_active=False)
