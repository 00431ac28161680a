"""Django's PostgreSQL backend; only the pool differs.

Django builds psycopg_pool's ConnectionPool with `check=check_connection` when
CONN_HEALTH_CHECKS is on: a round trip on every checkout, and a sleep of 1 s, 2 s, 4 s…
after each dead connection, so the first requests after a database restart would wait
for seconds or fail with PoolTimeout. This pool checks the socket instead and replaces
dead connections at once (see fleet.db).
"""

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base

from fleet.db import LiveConnectionPool


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        # Django 5.2's own property, with LiveConnectionPool and no `check=`.
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not pool_options:
            return None
        if self.alias not in self._connection_pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            connect_kwargs = self.get_connection_params()
            connect_kwargs["autocommit"] = True  # as Django: it sets autocommit later on
            pool = LiveConnectionPool(
                kwargs=connect_kwargs,
                open=False,  # opened on first use, as Django's
                configure=self._configure_connection,
                **({} if pool_options is True else pool_options),
            )
            self._connection_pools.setdefault(self.alias, pool)
        return self._connection_pools[self.alias]
