"""Connections to the warehouse and the raw append-only logs.

The loaders only ever append to three relations (`raw.events`,
`raw.catalog_changes`, `raw.rejected`); dbt reads them as sources.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

from .settings import Settings

RAW_TABLES = {
    "events": [
        ("transaction_id", "varchar not null"),
        ("external_subscription_id", "varchar not null"),
        ("code", "varchar not null"),
        ("timestamp", "timestamp"),
        ("properties", "{json} not null"),
        ("precise_total_amount_cents", "decimal(38, 12)"),
        ("received_at", "timestamp not null"),
        ("batch_id", "varchar not null"),
    ],
    "catalog_changes": [
        ("object_type", "varchar not null"),
        ("object_key", "varchar not null"),
        ("action", "varchar not null"),
        ("payload", "{json} not null"),
        ("received_at", "timestamp not null"),
        ("seq", "bigint not null"),
    ],
    "rejected": [
        ("source", "varchar not null"),
        ("reason_code", "varchar not null"),
        ("reason", "varchar not null"),
        ("raw_text", "varchar"),
        ("received_at", "timestamp not null"),
    ],
    # payment status changes from the providers (tally.push): verified webhooks and polling
    "payment_events": [
        ("provider", "varchar not null"),
        ("event_id", "varchar not null"),
        ("invoice_id", "varchar not null"),
        ("provider_payment_id", "varchar"),
        ("event_type", "varchar not null"),
        ("payment_status", "varchar not null"),
        ("payload", "{json} not null"),
        ("occurred_at", "timestamp"),
        ("received_at", "timestamp not null"),
    ],
}


class Warehouse:
    """A thin connection wrapper: `?` placeholders on both warehouses."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.target = settings.target
        self.raw = settings.raw_schema
        self._conn = None

    # -- connection -------------------------------------------------------
    def connect(self):
        if self._conn is not None:
            return self._conn
        if self.target == "duckdb":
            import duckdb

            path = self.settings.duckdb_path
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = duckdb.connect(str(path), config=dict(self.settings.duckdb_config))
            self._conn.execute("set TimeZone = 'UTC'")
        else:
            import psycopg2

            pg = self.settings.pg
            ensure_pg_database(self.settings)
            self._conn = psycopg2.connect(
                host=pg["host"], port=pg["port"], user=pg["user"],
                password=pg["password"] or None, dbname=pg["database"],
                options="-c TimeZone=UTC",
            )
        return self._conn

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, *exc):
        if exc[0] is None and self.target == "postgres" and self._conn is not None:
            self._conn.commit()
        self.close()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.target == "postgres" else sql

    def execute(self, sql: str, params: Sequence[Any] | None = None):
        conn = self.connect()
        if self.target == "duckdb":
            return conn.execute(sql, params or [])
        cur = conn.cursor()
        cur.execute(self._sql(sql), params or None)
        return cur

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]):
        conn = self.connect()
        if self.target == "duckdb":
            conn.executemany(sql, rows)
        else:
            from psycopg2.extras import execute_batch

            execute_batch(conn.cursor(), self._sql(sql), rows, page_size=1000)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[tuple]]:
        cur = self.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return cols, [tuple(r) for r in cur.fetchall()]

    def records(self, sql: str, params: Sequence[Any] | None = None) -> list[dict]:
        cols, rows = self.query(sql, params)
        return [dict(zip(cols, r)) for r in rows]

    def commit(self):
        if self._conn is not None and self.target == "postgres":
            self._conn.commit()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        conn = self.connect()
        if self.target == "duckdb":
            conn.execute("begin transaction")
            try:
                yield
            except BaseException:
                conn.execute("rollback")
                raise
            conn.execute("commit")
        else:
            try:
                yield
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    # -- raw logs ---------------------------------------------------------
    @property
    def json_type(self) -> str:
        return "json" if self.target == "duckdb" else "jsonb"

    def relation_exists(self, schema: str, name: str) -> bool:
        _, rows = self.query(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, name],
        )
        return rows[0][0] > 0

    def ensure_raw(self) -> None:
        """Create the raw schema and its append-only logs if missing."""
        self.execute(f'create schema if not exists "{self.raw}"')
        for table, cols in RAW_TABLES.items():
            body = ", ".join(f'"{c}" {t.format(json=self.json_type)}' for c, t in cols)
            self.execute(f'create table if not exists "{self.raw}"."{table}" ({body})')
        if self.target == "postgres":
            # The dedup key doubles as the index the ingest anti-join needs.
            self.execute(
                f'create unique index if not exists events_dedup_key on "{self.raw}".events '
                "(external_subscription_id, transaction_id)"
            )
            self.execute(
                f'create index if not exists catalog_changes_key on "{self.raw}".catalog_changes '
                "(object_type, object_key, received_at)"
            )
        self.commit()

    def schema_exists(self, schema: str) -> bool:
        _, rows = self.query(
            "select count(*) from information_schema.schemata where schema_name = ?", [schema]
        )
        return rows[0][0] > 0

    def drop_schema(self, schema: str) -> None:
        self.execute(f'drop schema if exists "{schema}" cascade')
        self.commit()


def ensure_pg_database(settings: Settings) -> None:
    """Create the PostgreSQL database named in the profile when it does not exist."""
    import psycopg2

    pg = settings.pg
    try:
        psycopg2.connect(host=pg["host"], port=pg["port"], user=pg["user"],
                         password=pg["password"] or None, dbname=pg["database"]).close()
        return
    except psycopg2.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    admin = psycopg2.connect(host=pg["host"], port=pg["port"], user=pg["user"],
                             password=pg["password"] or None, dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'create database "{pg["database"]}"')
    except (psycopg2.errors.DuplicateDatabase, psycopg2.errors.UniqueViolation):
        # a concurrent `create database` of the same name can lose the race on the catalog's
        # unique index instead of seeing the database: either way it exists now
        pass
    finally:
        admin.close()
