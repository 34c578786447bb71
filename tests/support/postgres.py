"""PostgreSQL for tests: a schema of its own per test on the session's server, a role that must
give its password, and short link limits so a silent machine costs little."""

from __future__ import annotations

import itertools
from urllib.parse import quote

import asyncpg

from storage.pglink import LinkLimits

# A role that must give its password (pgserver trusts every local connection otherwise), with
# every character a URL or a shell treats specially.
PASSWORD_ROLE = "wanbot_pw"


ROLE_PASSWORD = "Zq9/Xk7#Wm3@:%?& Lp5"


def role_url(schema_url: str, *, password: str | None = None) -> str:
    """`schema_url` (from new_postgres_schema) as PASSWORD_ROLE, with `password` percent-encoded
    in it if given."""
    userinfo = PASSWORD_ROLE + (f":{quote(password, safe='')}" if password is not None else "")
    return schema_url.replace("postgresql://postgres:@", f"postgresql://{userinfo}@", 1)


_schemas = itertools.count(1)


async def new_postgres_schema(server_url: str) -> str:
    """A URL whose connections see only a new, empty schema of the test server."""
    schema = f"test_{next(_schemas)}"
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f"CREATE SCHEMA {schema}")
    finally:
        await connection.close()
    return f"{server_url}&search_path={schema}"


SHORT = LinkLimits(
    connect_seconds=2.0,
    command_seconds=4.0,
    statement_seconds=3.5,
    lock_seconds=3.0,
    idle_in_transaction_seconds=1.0,
)
