"""`python -m bot usage`: a server's usage chart (and its ledger as CSV) from the bot's database."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.run.cli.exits import EXIT_BAD_INPUT, EXIT_OK
from bot.run.settings import Settings


async def usage_command(args: argparse.Namespace, settings: Settings) -> int:
    """Draw a server's usage chart (and write its ledger) from the bot's database."""
    from bot.i18n import language
    from bot.usage.chart import render_usage_chart
    from bot.usage.report import ledger_csv, period_ledger, period_usage
    from storage.connect import open_database
    from storage.quotas import QuotaStore

    for path in (args.output, args.csv):
        if path is not None and not path.parent.is_dir():
            print(f"error: there is no folder {path.parent} for {path}", file=sys.stderr)
            return EXIT_BAD_INPUT
    target = settings.database_target()
    if isinstance(target, Path) and not target.is_file():
        print(f"error: no SQLite database at {target} (WANBOT_DATABASE_PATH)", file=sys.stderr)
        return EXIT_BAD_INPUT
    password = settings.database_password_text()  # InvalidInput: main() says it
    async with await open_database(target, password=password) as db:
        quotas = QuotaStore(
            db, default_seconds=settings.quota_default_seconds, default_period=settings.quota_period
        )
        usage = await period_usage(quotas, args.guild, args.period)
        entries = await period_ledger(quotas, usage.report) if args.csv else []
    report = usage.report
    chart = render_usage_chart(
        report,
        usage.days,
        names={},  # no Discord here: members are `user <id>`
        cost_per_second=settings.cost_per_second_usd,
        lang=language(args.language),
    )
    args.output.write_bytes(chart)
    if args.csv:
        args.csv.write_bytes(ledger_csv(entries))
        print(f"{args.csv}: {len(entries)} ledger rows", file=sys.stderr)
    first, last = (
        datetime.fromtimestamp(at, UTC).date().isoformat()
        for at in (report.period_start, report.period_end - 1)
    )
    print(
        f"{args.output}: {report.total_seconds} s in {report.jobs} video(s) in server "
        f"{args.guild}, the {report.period.value} of {first} to {last}",
        file=sys.stderr,
    )
    print(args.output)
    return EXIT_OK
