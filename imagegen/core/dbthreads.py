"""Database connections of request threads under ASGI.

Django's ASGI handler runs each request's synchronous parts (its middleware, a sync view, a
``sync_to_async`` call) on a thread of that request's own, which lives as long as the
request. With persistent connections (``CONN_MAX_AGE``) a connection opened there stays open
for the whole request, a live stream's five minutes or a /v1 client's wait, and is dropped
unclosed with the thread: a hundred open pages would hold a hundred PostgreSQL connections.
Long-lived ASGI requests close their thread's connection after each piece of database work.
"""

from django.db import connection


def close_connection() -> None:
    """Close this thread's connection, unless a transaction (a test's) is holding it; the
    next query opens a fresh one. SQLite's connection is a file handle, not a server's
    session, and reopening it costs its set-up statements every time: it is kept."""
    if connection.vendor != "sqlite" and not connection.in_atomic_block:
        connection.close()


def closing_connection(function):
    """``function``, closing its thread's database connection after it runs."""

    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            close_connection()

    return call
