"""`python -m bot run | worker | sync | commands`: the commands that talk to Discord (or print
what they would send)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from typing import Any

from bot.cli.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from bot.errors import InvalidInput
from bot.settings import Settings
from storage.database import StorageInUse

_SUBCOMMAND_TYPES = {1, 2}  # Discord's option types: a subcommand, a group of them


def discord_command(args: argparse.Namespace, settings: Settings) -> int:
    from bot import app

    try:
        if args.command == "commands":
            payloads = asyncio.run(app.command_payloads(settings))
            print(
                "\n".join(command_lines(payloads)) if args.list else json.dumps(payloads, indent=2)
            )
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


def command_lines(payloads: list[dict[str, Any]]) -> list[str]:
    """One line per slash command a member can type: `/video animate: its description`."""
    lines = []

    def walk(prefix: str, entry: dict[str, Any]) -> None:
        subcommands = [o for o in entry.get("options", []) if o["type"] in _SUBCOMMAND_TYPES]
        if not subcommands:
            lines.append(f"{prefix}: {entry.get('description', '')}")
        for option in subcommands:
            walk(f"{prefix} {option['name']}", option)

    for payload in payloads:
        walk(f"/{payload['name']}", payload)
    return lines
