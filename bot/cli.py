"""Headless commands: `generate` (one video from the shell), `demo`, `demo-scale`, `simulator`
and `usage` (a server's usage chart).

Exit codes for `generate` and `usage`: 0 success; 2 bad input or configuration (one line, nothing
sent or written); 1 the provider refused or failed the task (its code and message).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import aiohttp
from pydantic import ValidationError
from pydantic_settings import SettingsError

from bot.catalog import MODELS, MediaType, Region
from bot.dashscope import DashScopeClient, DashScopeError
from bot.errors import InvalidInput
from bot.headless import GenerateOptions, HeadlessRunner, TaskFailed, generate
from bot.i18n import LANGUAGE_NAMES, locale_code
from bot.settings import Settings, setting_errors
from bot.usage_report import PERIODS
from storage.database import StorageInUse, is_postgres_url
from storage.pglink import DatabaseUnreachable, DatabaseUrlError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

_MEDIA_OPTIONS = {
    MediaType.FIRST_FRAME: "first_frame",
    MediaType.LAST_FRAME: "last_frame",
    MediaType.DRIVING_AUDIO: "audio",
    MediaType.FIRST_CLIP: "clip",
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bot", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gen = commands.add_parser("generate", help="make one video and download it")
    gen.add_argument("--model", required=True, help=f"one of: {', '.join(MODELS)}")
    gen.add_argument("--first-frame", metavar="PATH|URL", help="first frame image")
    gen.add_argument("--last-frame", metavar="PATH|URL", help="last frame image")
    gen.add_argument("--audio", metavar="PATH|URL", help="driving audio (wav or mp3)")
    gen.add_argument("--clip", metavar="PATH|URL", help="first clip to continue (mp4 or mov)")
    gen.add_argument("--template", metavar="NAME", help="effect template (wanx2.1-kf2v-plus)")
    gen.add_argument("--prompt", metavar="TEXT")
    gen.add_argument("--negative-prompt", metavar="TEXT")
    gen.add_argument("--resolution", metavar="480P|720P|1080P")
    gen.add_argument("--duration", type=int, metavar="N", help="seconds")
    gen.add_argument("--seed", type=int, metavar="N")
    gen.add_argument("--no-prompt-extend", action="store_true", help="do not rewrite the prompt")
    gen.add_argument("--watermark", action="store_true", help='add the "AI generated" mark')
    gen.add_argument("--base-url", metavar="URL", help="e.g. https://dashscope.aliyuncs.com/api/v1")
    gen.add_argument("--region", choices=[r.value for r in Region])
    gen.add_argument("--output", required=True, type=Path, metavar="FILE.mp4")

    demo = commands.add_parser("demo", help="run every mode against the built-in simulator")
    demo.add_argument("--output-dir", type=Path, default=Path("output/demo"))

    demo_scale = commands.add_parser(
        "demo-scale",
        help="two worker processes on a throwaway PostgreSQL; the scheduler is killed half way",
    )
    demo_scale.add_argument("--output-dir", type=Path, default=Path("output/demo-scale"))

    run = commands.add_parser("run", help="run the Discord bot (needs DISCORD_TOKEN)")
    run.add_argument(
        "--simulator", action="store_true", help="use the built-in DashScope simulator (no cost)"
    )

    worker = commands.add_parser(
        "worker", help="run the engine without the gateway (several processes: see the README)"
    )
    worker.add_argument(
        "--simulator", action="store_true", help="use the built-in DashScope simulator (no cost)"
    )
    worker.add_argument(
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="deliver videos as files in DIR instead of to Discord (no token needed)",
    )

    copy = commands.add_parser(
        "copy-database",
        help="copy the SQLite database (WANBOT_DATABASE_PATH) into an empty PostgreSQL one",
    )
    copy.add_argument(
        "--to",
        metavar="URL",
        help="postgresql://user@host/db (default: WANBOT_DATABASE_URL); a password not in the URL"
        " comes from WANBOT_DATABASE_PASSWORD(_FILE) or PGPASSWORD",
    )

    usage = commands.add_parser(
        "usage", help="draw a server's usage chart, as /videoadmin quota usage attaches it"
    )
    usage.add_argument("--guild", required=True, type=_guild_id, metavar="ID", help="server id")
    usage.add_argument("--output", required=True, type=Path, metavar="FILE.png")
    usage.add_argument("--period", choices=PERIODS, default="current")
    usage.add_argument("--csv", type=Path, metavar="FILE", help="also write the period's ledger")
    usage.add_argument(
        "--language",
        type=locale_code,  # "en", "es_419", "pt-br" as Discord spells them; none: English
        choices=list(LANGUAGE_NAMES),
        metavar="CODE",
        help=f"the chart's words: one of {', '.join(LANGUAGE_NAMES)} or en (default: en)",
    )

    sync = commands.add_parser("sync", help="push the slash commands to Discord")
    sync.add_argument("--guild", type=int, metavar="ID", help="one server (instant) instead of all")

    payloads = commands.add_parser("commands", help="print the slash command definitions")
    payloads.add_argument("--json", action="store_true", required=True, help="as Discord's JSON")

    commands.add_parser(
        "health",
        help="exit 0 if the running bot or worker beat lately: database, engine (and gateway) well",
    )

    messages = commands.add_parser(
        "messages", help="for translators: extract every message into the languages' .po files"
    )
    messages.add_argument(
        "--check", action="store_true", help="only list missing or broken translations"
    )

    sim = commands.add_parser("simulator", help="run the DashScope simulator on loopback")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--pending-seconds", type=float, default=5.0)
    sim.add_argument("--running-seconds", type=float, default=20.0)
    return parser


def _guild_id(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"a server id is a number, not {text!r}")
    return int(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Print one line (not the usage block) and exit 2."""
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message}\n")


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    args = build_parser().parse_args(argv)
    if settings is None:
        try:
            settings = Settings()
        except ValidationError as error:
            for line in setting_errors(error):  # never the values given: they may be secrets
                print(f"error: {line}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except SettingsError as error:  # a JSON setting that is not JSON (its text names no value)
            print(f"error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    # The database's errors, wherever it is opened: one line, never the password.
    where = "--to" if args.command == "copy-database" and args.to else "WANBOT_DATABASE_URL"
    try:
        return _command(args, settings)
    except InvalidInput as error:  # e.g. WANBOT_DATABASE_PASSWORD_FILE cannot be read
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except DatabaseUrlError as error:
        print(
            f"error: {where} cannot be used: {error}, or give the password in"
            " WANBOT_DATABASE_PASSWORD.",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except DatabaseUnreachable as error:
        print(f"error: {error} ({where})", file=sys.stderr)
        return EXIT_FAILED


def _command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "generate":
        return asyncio.run(run_generate(args, settings))
    if args.command == "demo":
        from bot.demo import run_demo

        return asyncio.run(run_demo(args.output_dir))
    if args.command == "demo-scale":
        from bot.demo_scale import run_demo_scale

        return run_demo_scale(args.output_dir)
    if args.command == "simulator":
        return _simulator_command(args)
    if args.command == "copy-database":
        return asyncio.run(_copy_database(settings, args.to))
    if args.command == "health":
        from bot.health import check

        fresh, line = check(settings.heartbeat_path)
        print(line, file=sys.stdout if fresh else sys.stderr)
        return EXIT_OK if fresh else EXIT_FAILED
    if args.command == "usage":
        return asyncio.run(_usage_command(args, settings))
    if args.command == "messages":
        return asyncio.run(_messages_command(check_only=args.check))
    if args.command in {"run", "worker", "sync", "commands"}:
        return _discord_command(args, settings)
    raise AssertionError(f"unhandled command {args.command}")


async def run_generate(args: argparse.Namespace, settings: Settings) -> int:
    """Run `generate` as parsed; print progress and errors to stderr; return the exit code."""
    options = GenerateOptions(
        model=args.model,
        output=args.output,
        media={
            media_type: value
            for media_type, name in _MEDIA_OPTIONS.items()
            if (value := getattr(args, name))
        },
        template=args.template,
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        resolution=args.resolution,
        duration=args.duration,
        seed=args.seed,
        prompt_extend=not args.no_prompt_extend,
        watermark=args.watermark,
    )
    try:
        options.draft()  # catalogue checks first: they need no key and no network
        keys = settings.api_keys()
        if not keys:
            raise InvalidInput(
                "No DashScope API key: set DASHSCOPE_API_KEY or put dashscope_api_key in "
                "~/.alibabacloud/credentials."
            )
        key = keys[0]  # with several keys, the first
        if args.base_url or args.region:
            region = Region(args.region) if args.region else None
            base_url = settings.base_url(args.base_url, region)
        else:
            base_url = settings.key_base_url(key)
        async with aiohttp.ClientSession() as session:
            client = DashScopeClient(session, api_key=key.api_key, base_url=base_url)
            async with HeadlessRunner(
                client,
                planner=settings.planner(),
                give_up_seconds=settings.unreadable_give_up_seconds,
                durations_file=settings.durations_file.expanduser(),
            ) as runner:
                result = await generate(session, client, runner, options, warn=_warn)
    except InvalidInput as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TaskFailed as error:
        print(f"failed: {error.code}: {error.message}", file=sys.stderr)
        return EXIT_FAILED
    except DashScopeError as error:
        print(f"failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"done: {result.output} ({_size_text(result.size_bytes)}, task {result.task_id}, "
        f"{result.seconds:.0f} s); evidence in {result.evidence_path}",
        file=sys.stderr,
    )
    print(result.output)
    return EXIT_OK


def _size_text(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _discord_command(args: argparse.Namespace, settings: Settings) -> int:
    import json
    import logging

    from bot import app

    try:
        if args.command == "commands":
            print(json.dumps(asyncio.run(app.command_payloads(settings)), indent=2))
        elif args.command == "sync":
            count = asyncio.run(app.sync_commands(settings, args.guild))
            where = (
                f"server {args.guild}" if args.guild else "every server (may take up to an hour)"
            )
            print(f"Synced {count} commands to {where}.", file=sys.stderr)
        else:
            logging.basicConfig(
                level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
            )
            with contextlib.suppress(KeyboardInterrupt):
                if args.command == "worker":
                    from bot.worker import run_worker

                    asyncio.run(
                        run_worker(settings, simulator=args.simulator, output_dir=args.output_dir)
                    )
                else:
                    asyncio.run(app.run_bot(settings, simulator=args.simulator))
    except InvalidInput as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StorageInUse as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


async def _messages_command(*, check_only: bool) -> int:
    """Extract the messages (code and slash commands) and update or check the catalogs."""
    from bot.app import command_strings
    from bot.i18n import catalogs

    template = catalogs.extract(await command_strings())
    if not check_only:
        catalogs.update(template)
    problems = catalogs.check(template)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(template)} messages; {len(problems)} problems.", file=sys.stderr)
    return EXIT_FAILED if check_only and problems else EXIT_OK


async def _usage_command(args: argparse.Namespace, settings: Settings) -> int:
    """Draw a server's usage chart (and write its ledger) from the bot's database."""
    from bot.i18n import language
    from bot.usage_chart import render_usage_chart
    from bot.usage_report import ledger_csv, period_ledger, period_usage
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


async def _copy_database(settings: Settings, to: str | None) -> int:
    """Copy the SQLite database (WANBOT_DATABASE_PATH) into the PostgreSQL database at `to`,
    else at WANBOT_DATABASE_URL; a password the URL lacks comes from the password settings."""
    from storage.connect import open_database
    from storage.postgres import PostgresDatabase
    from storage.transfer import COPY_LIMITS, NotEmpty, copy_database

    target = str(settings.database_target())
    url = to or (target if is_postgres_url(target) else None)
    if url is None or not is_postgres_url(url):
        what = "--to must be" if url else "name the database: --to or WANBOT_DATABASE_URL,"
        print(f"error: {what} a postgresql:// URL", file=sys.stderr)
        return EXIT_BAD_INPUT
    source_path = settings.database_path
    if not source_path.is_file():
        print(f"error: no SQLite database at {source_path}", file=sys.stderr)
        return EXIT_BAD_INPUT
    password = settings.database_password_text()  # InvalidInput: main() says it
    target_db = await PostgresDatabase.connect(url, limits=COPY_LIMITS, password=password)
    source = await open_database(source_path)
    try:
        copied = await copy_database(source, target_db)
    except NotEmpty as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await source.close()
        await target_db.close()
    for table, count in copied.items():
        print(f"{table}: {count} rows", file=sys.stderr)
    then = "Set WANBOT_DATABASE_URL to that URL and start" if to else "Start"
    print(f"Copied. {then} the processes.", file=sys.stderr)
    return EXIT_OK


def _simulator_command(args: argparse.Namespace) -> int:
    from bot.media import check_media
    from bot.simulator import SimulatorConfig, serve

    config = SimulatorConfig(
        pending_seconds=args.pending_seconds,
        running_seconds=args.running_seconds,
        media_checker=check_media,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, config))
    return EXIT_OK
