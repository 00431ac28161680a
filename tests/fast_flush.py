"""Emptying the database after a transactional test, without rebuilding what never changes.

Django's TransactionTestCase empties every table after each test and then re-sends
post_migrate, which recreates every content type and permission row by row: most of the
second or so each transactional test spends in teardown. Content types and permissions
are written by migrations and post_migrate only, never by a test, so they are kept, and
the rest is emptied in one TRUNCATE as before. Keeping them also keeps their ids stable,
so ContentType's in-process cache never holds an id a flush has replaced.
"""

from django.core.management.color import no_style
from django.db import connections, transaction
from django.test import TransactionTestCase

# Written by migrate and post_migrate alone; every other table is emptied.
KEPT_TABLES = frozenset({"django_content_type", "auth_permission", "django_migrations"})


def _fixture_teardown(self: TransactionTestCase) -> None:
    for db_name in self._databases_names(include_mirrors=False):
        connection = connections[db_name]
        tables = [
            table
            for table in connection.introspection.django_table_names(
                only_existing=True, include_views=False
            )
            if table not in KEPT_TABLES
        ]
        if connection.vendor != "postgresql":
            connection.ops.execute_sql_flush(
                connection.ops.sql_flush(no_style(), tables, allow_cascade=True)
            )
            continue
        # DELETE, not TRUNCATE: a test leaves a few rows, and deleting them costs far less
        # than TRUNCATE's new file per table. Foreign keys are deferred to the commit. A
        # second pass empties what a DELETE trigger wrote into a table already emptied
        # (the power-peak rollup recomputes from the samples that remain).
        with transaction.atomic(using=db_name), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for _ in range(2):
                for table in tables:
                    cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")


def install() -> None:
    TransactionTestCase._fixture_teardown = _fixture_teardown
