"""A machine goes silent inside a write transaction: how long do the other machines' writes wait?

Two "machines" share one PostgreSQL database, each through its own fault-injecting TCP proxy
(tests/support/pgproxy.py), each with its own `PostgresDatabase` pool and the PRODUCTION link limits
(`LinkLimits()`). In each round the silent machine starts a settings change; the moment its
write-lock statement has run, its proxy black-holes everything (no FIN, no RST: a power cut).
Then the healthy machine makes WRITERS settings changes at once, for different servers.

- `write_stall_s`: the longest any of those healthy writes took, from the moment of silence;
  median of ROUNDS rounds (`write_stall_spread_s`: the shortest and longest round). What bounds
  it is the server's `idle_in_transaction_session_timeout` (10 s), which ends the silent
  session and its transaction-scoped write lock; the healthy writes wait for the lock up to
  `lock_timeout` (20 s), so they are not refused. Target <= 30. It comes out badly when a limit
  is wrong: `--idle-in-transaction 40` leaves the lock held past `lock_timeout`, and the healthy
  writes are refused (`write_stall_refused` counts them); `--idle-in-transaction 0` (no limit,
  as before) stalls them until the deadline.
- `write_stall_stuck_call_s`: in the first round, how long the silent machine's own call took to
  fail (its `command_timeout`, 35 s), instead of never.

Server-side TCP keepalives play no part here: behind the proxy the server's probes are answered
by the proxy's kernel, as they would be by any middlebox that keeps the TCP connection. The bench
starts its own PostgreSQL (the `pgserver` package, as the tests do) and stops it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
from bench_pg_quota import postgres_server
from benchlib import report, report_header

from storage.guild_settings import GuildSettingsStore
from storage.pglink import LinkLimits
from storage.postgres import PostgresDatabase
from tests.support.pgproxy import PgProxy

ROUNDS = 5
WRITERS = 4
DEADLINE = 120.0  # a round's healthy writes are given up after this (an unbounded stall)


@dataclasses.dataclass
class Round:
    stall_s: float
    refused: int
    stuck_call_s: float | None


async def _schema(server_url: str, name: str) -> str:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f"CREATE SCHEMA {name}")
    finally:
        await connection.close()
    return f"{server_url}{'&' if '?' in server_url else '?'}search_path={name}"


async def _healthy_write(db: PostgresDatabase, guild: int, since: float) -> tuple[float, bool]:
    """One settings change; how long after `since` it ended, and whether it was refused."""
    try:
        await GuildSettingsStore(db).update(guild, language="de")
    except asyncpg.PostgresError:  # lock_timeout (or another server refusal)
        return time.monotonic() - since, True
    return time.monotonic() - since, False


async def _round(server_url: str, index: int, limits: LinkLimits, *, wait_stuck: bool) -> Round:
    url = await _schema(server_url, f"round{index}")
    silent_proxy, healthy_proxy = await PgProxy(url).start(), await PgProxy(url).start()
    silent = await PostgresDatabase.connect(silent_proxy.url, limits=limits)
    healthy = await PostgresDatabase.connect(healthy_proxy.url, limits=limits)
    try:
        vanished = silent_proxy.on_statement(
            "pg_advisory_xact_lock", when="after", action="blackhole", scope="machine"
        )
        stuck = asyncio.create_task(GuildSettingsStore(silent).update(1, language="fr"))
        await asyncio.wait_for(vanished.fired.wait(), 30)
        since = time.monotonic()
        writes = [_healthy_write(healthy, 100 + n, since) for n in range(WRITERS)]
        try:
            results = await asyncio.wait_for(asyncio.gather(*writes), DEADLINE)
        except TimeoutError:
            results = [(DEADLINE, False)]
        stuck_call_s = None
        if wait_stuck:
            # It is meant to fail; how long it took is the figure.
            await asyncio.wait([stuck], timeout=DEADLINE)
            stuck_call_s = time.monotonic() - since
        stuck.cancel()  # the next rounds do not wait for it
        await asyncio.gather(stuck, return_exceptions=True)
        return Round(
            stall_s=max(seconds for seconds, _ in results),
            refused=sum(refused for _, refused in results),
            stuck_call_s=stuck_call_s,
        )
    finally:
        silent_proxy.reset()  # the silent machine's pool closes at once instead of timing out
        await silent.close()
        await healthy.close()
        await silent_proxy.close()
        await healthy_proxy.close()


async def _rounds(server_url: str, limits: LinkLimits) -> list[Round]:
    return [
        await _round(server_url, index, limits, wait_stuck=index == 0) for index in range(ROUNDS)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--idle-in-transaction",
        type=float,
        metavar="S",
        help="the control: another idle_in_transaction_session_timeout (0: none)",
    )
    parser.add_argument("--lock", type=float, metavar="S", help="another lock_timeout (0: none)")
    args = parser.parse_args()
    limits = LinkLimits()
    flags: list[str] = []
    if args.idle_in_transaction is not None:
        limits = dataclasses.replace(limits, idle_in_transaction_seconds=args.idle_in_transaction)
        flags += ["--idle-in-transaction", f"{args.idle_in_transaction:g}"]
    if args.lock is not None:
        limits = dataclasses.replace(limits, lock_seconds=args.lock)
        flags += ["--lock", f"{args.lock:g}"]
    with (
        tempfile.TemporaryDirectory(prefix="wanbot-bench-pg-") as folder,
        postgres_server(Path(folder) / "pg") as server_url,
    ):
        rounds = asyncio.run(_rounds(server_url, limits))
    report_header(__file__, "wall clock (time.monotonic), from the moment of silence", flags)
    report(
        "write_stall_set_up",
        f"{ROUNDS} rounds, {WRITERS} healthy writes each, limits: idle in transaction"
        f" {limits.idle_in_transaction_seconds:g} s, lock {limits.lock_seconds:g} s, statement"
        f" {limits.statement_seconds:g} s, command {limits.command_seconds} s",
    )
    for index, result in enumerate(rounds, start=1):
        report(
            f"write_stall_round_{index}",
            f"{result.stall_s:.1f} s, {result.refused} of {WRITERS} refused",
        )
    stalls = [result.stall_s for result in rounds]
    report("write_stall_s", round(statistics.median(stalls), 1))
    report("write_stall_spread_s", f"{min(stalls):.1f} to {max(stalls):.1f}")
    report("write_stall_refused", sum(result.refused for result in rounds))
    stuck = rounds[0].stuck_call_s
    report("write_stall_stuck_call_s", round(stuck, 1) if stuck is not None else "n/a")
    print(
        "# write_stall_s is the median over rounds of the longest healthy write's wait; the"
        " target is <= 30 s with no write refused."
    )


if __name__ == "__main__":
    main()
