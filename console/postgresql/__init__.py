"""Django's PostgreSQL backend, with a connection pool that hands out only live
connections (fleet.db.LiveConnectionPool): DATABASE_URL's ENGINE."""
