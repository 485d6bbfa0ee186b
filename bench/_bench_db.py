"""A throwaway PostgreSQL database for a benchmark (created at start, dropped at the end)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

SERVER = "postgres://postgres@127.0.0.1:5432"


@contextmanager
def throwaway_database(given: str | None, name: str) -> Iterator[str]:
    """Yield ``given`` untouched, or the URL of a fresh database ``name`` on the local server."""
    if given:
        yield given
        return
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{SERVER}/{name}"
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
