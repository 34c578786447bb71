"""`python -m bot run | worker | sync | commands`: the commands that talk to Discord (or print
what they would send)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any

import aiohttp
import discord

from bot.domain.errors import InvalidInput
from bot.run.cli.exits import EXIT_FAILED, EXIT_OK, fail
from bot.run.logs import setup_logging
from bot.run.settings import Settings
from bot.run.startup import NotWritable, StartupFailed
from storage.database import StorageInUse

WRONG_TOKEN = (
    "Discord refused DISCORD_TOKEN (401 Unauthorized): copy the bot's token again (Developer"
    " Portal, your application, Bot, Reset Token) and set DISCORD_TOKEN to it"
)
_SUBCOMMAND_TYPES = {1, 2}  # Discord's option types: a subcommand, a group of them
_MESSAGE_MENU = 3  # Discord's command types: a message's context menu (right-click → Apps)


def discord_command(args: argparse.Namespace, settings: Settings) -> int:
    from bot.run import app

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
            setup_logging()
            with contextlib.suppress(KeyboardInterrupt):
                if args.command == "worker":
                    from bot.run.worker import run_worker

                    asyncio.run(
                        run_worker(settings, simulator=args.simulator, output_dir=args.output_dir)
                    )
                else:
                    asyncio.run(app.run_bot(settings, simulator=args.simulator))
    except (InvalidInput, NotWritable) as error:
        return fail(str(error))
    except discord.LoginFailure:
        return fail(WRONG_TOKEN)
    except (StorageInUse, StartupFailed) as error:
        return fail(str(error), EXIT_FAILED)
    except (aiohttp.ClientError, discord.DiscordServerError) as error:  # `sync`: no waiting
        reason = " ".join(str(error).split()) or type(error).__name__
        return fail(f"cannot reach Discord: {reason}", EXIT_FAILED)
    return EXIT_OK


def command_lines(payloads: list[dict[str, Any]]) -> list[str]:
    """One line per slash command a member can type: `/video animate: its description`; and one
    per message menu (right-click a message → Apps): `Apps → Animate this image: …`."""
    lines = []

    def walk(prefix: str, entry: dict[str, Any]) -> None:
        subcommands = [o for o in entry.get("options", []) if o["type"] in _SUBCOMMAND_TYPES]
        if not subcommands:
            lines.append(f"{prefix}: {entry.get('description', '')}")
        for option in subcommands:
            walk(f"{prefix} {option['name']}", option)

    for payload in payloads:
        if payload.get("type") == _MESSAGE_MENU:
            lines.append(f"Apps → {payload['name']}: a message's menu")
        else:
            walk(f"/{payload['name']}", payload)
    return lines
