"""The unit tier runs without a database: a test here that asks for one
(a django_db mark, or a fixture that needs it) is a collection error, not
a slow surprise."""

from pathlib import Path

import pytest

HERE = Path(__file__).parent
DATABASE_FIXTURES = {"db", "transactional_db", "django_db_setup", "live_server", "sandbox", "alice", "charlie"}


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE not in Path(str(item.fspath)).parents:
            continue
        wants = DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("django_db") or wants:
            raise pytest.UsageError(f"{item.nodeid} needs the database ({wants or 'django_db'}): move it to tests/flows")
