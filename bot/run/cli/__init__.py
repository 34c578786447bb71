"""The command line, `python -m bot <command>`: read the settings once, run the command, and
turn the errors any command can meet into one line.

Each command's body lives in a module of its own beside this one; `parser` holds the grammar.
Exit codes (`exits`): 0 success; 2 bad input or configuration (one line, nothing sent or
written); 1 the work itself failed (e.g. the provider refused the task: its code and message).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from pydantic_settings import SettingsError

from bot.domain.errors import InvalidInput
from bot.run.cli.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from bot.run.cli.generate import run_generate
from bot.run.cli.parser import build_parser
from bot.run.settings import Settings, setting_errors, source_error
from storage.pglink import DatabaseUnreachable, DatabaseUrlError

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "build_parser", "main", "run_generate"]


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    args = build_parser().parse_args(argv)
    if settings is None:
        try:
            settings = Settings()
        except ValidationError as error:
            for line in setting_errors(error):  # never the values given: they may be secrets
                print(f"error: {line}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except SettingsError as error:  # a JSON setting that is not JSON
            print(f"error: {source_error(error)}", file=sys.stderr)
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
        from bot.dev.demo import run_demo

        return asyncio.run(run_demo(args.output_dir))
    if args.command == "demo-scale":
        from bot.dev.demo_scale import run_demo_scale

        return run_demo_scale(args.output_dir)
    if args.command == "simulator":
        from bot.run.cli.tools import simulator_command

        return simulator_command(args)
    if args.command == "copy-database":
        from bot.run.cli.copy_database import copy_database_command

        return asyncio.run(copy_database_command(settings, args.to))
    if args.command == "backup":
        from bot.run.cli.backup import backup_command

        return asyncio.run(backup_command(settings, args.output, force=args.force))
    if args.command == "health":
        from bot.run.health import check

        fresh, line = check(settings.heartbeat_path)
        print(line, file=sys.stdout if fresh else sys.stderr)
        return EXIT_OK if fresh else EXIT_FAILED
    if args.command == "usage":
        from bot.run.cli.usage import usage_command

        return asyncio.run(usage_command(args, settings))
    if args.command == "messages":
        from bot.run.cli.tools import messages_command

        return asyncio.run(messages_command(check_only=args.check))
    if args.command in {"run", "worker", "sync", "commands"}:
        from bot.run.cli.discord_commands import discord_command

        return discord_command(args, settings)
    raise AssertionError(f"unhandled command {args.command}")
