"""Scheduler failover when its machine goes silent: seconds from the silence to the standby's first
request at the provider.

A SIGKILLed process closes its sockets, and PostgreSQL frees its lock at once (bench_failover.py).
A machine that loses power or its network closes nothing: its sessions stay open, and with them the
scheduler's advisory lock. Here each of two `python -m bot worker --output-dir` processes reaches
PostgreSQL through a fault-injecting TCP proxy of its own (tests/support/pgproxy.py). To silence the
scheduler, its proxy black-holes every connection (no FIN, no RST: PostgreSQL's keepalive probes
are answered by the proxy's kernel, as by any middlebox) and the process is stopped (SIGSTOP). The
standby finds the scheduler's term lapsed on the database's clock (WANBOT_LEASE_SECONDS, 20 s by
default), ends the silent holder's session, and takes over. The silent worker is then SIGKILLed
and started again as the next standby.

Set-up as bench_failover.py (a job every ARRIVAL_S, not announced; default tick 2 s and lease 20 s;
the production link limits). KILLS silences.

- `failover_silent_s`: the median of the KILLS readings, on the simulator's clock, from the
  silence to the standby's first scheduler request (submit, poll, list or cancel). Target <= 30.
  It is bounded by the lease (20 s) plus a tick, plus the write lock if the silent machine held
  it (freed by the server's idle-in-transaction timeout, 10 s, long before). It comes out badly
  with a longer `--lease-seconds`, and never without the lease (a standby would wait for the
  server's TCP keepalives, which a middlebox or this proxy defeats).
- `failover_silent_jobs_ok`: every job delivered once, charged once (as in bench_failover.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_failover import ARRIVAL_S, HOSTS, take_turns
from benchlib import report, report_header

from bot.dev.local_cluster import Worker, throwaway_postgres
from tests.support.pgproxy import PgProxy

KILLS = 3


async def run(folder: Path, url: str, lease_seconds: float | None) -> dict:
    settings = {} if lease_seconds is None else {"WANBOT_LEASE_SECONDS": str(lease_seconds)}
    proxies = {name: await PgProxy(url).start() for name in HOSTS}

    async def silence(worker: Worker) -> None:
        proxies[worker.name].blackhole()  # power or network lost: nothing closes
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGSTOP)

    async def end(worker: Worker) -> None:
        await worker.kill()
        proxies[worker.name].heal()

    try:
        return await take_turns(
            folder,
            {name: proxy.url for name, proxy in proxies.items()},
            url,
            settings,
            kills=KILLS,
            fail=silence,
            after=end,
            word="silence",
        )
    finally:
        for proxy in proxies.values():
            await proxy.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lease-seconds", type=float, help="the workers' WANBOT_LEASE_SECONDS (default: 20)"
    )
    args = parser.parse_args()
    report_header(
        __file__,
        "wall clock: the simulator's request times (time.time) against the moment of silence",
        [] if args.lease_seconds is None else ["--lease-seconds", str(args.lease_seconds)],
    )
    with (
        tempfile.TemporaryDirectory(prefix="wanbot-bench-silent-") as folder,
        throwaway_postgres() as url,
    ):
        result = asyncio.run(run(Path(folder), url, args.lease_seconds))
    readings = result["readings"]
    report(
        "failover_silent_set_up",
        f"2 worker processes behind proxies, tick 2 s, lease {args.lease_seconds or 20:g} s;"
        f" a job every {ARRIVAL_S} s; {KILLS} silences (black-holed + SIGSTOP) of the scheduler",
    )
    for index, reading in enumerate(readings, start=1):
        report(f"failover_silent_{index}_s", "never" if reading is None else reading)
    report("failover_silent_jobs", result["jobs"])
    report("failover_silent_problems", len(result["problems"]))
    for problem in result["problems"][:10]:
        print(f"# {problem}")
    ok = not result["problems"] and result["left"] == 0
    report("failover_silent_jobs_ok", ok)
    seen = [r for r in readings if r is not None]
    if len(seen) < len(readings) or not seen:
        report("failover_silent_s", "never")
        return 1
    report("failover_silent_max_s", max(seen))
    report("failover_silent_s", statistics.median(seen))
    print("# failover_silent_s: median of the silences; target <= 30 s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
