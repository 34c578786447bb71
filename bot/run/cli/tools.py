"""`python -m bot messages | simulator`: for translators, and a DashScope simulator to try things on."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from bot.run.cli.exits import EXIT_FAILED, EXIT_OK


async def messages_command(*, check_only: bool) -> int:
    """Extract the messages (code and slash commands) and update or check the catalogs."""
    from bot.i18n import catalogs
    from bot.run.app import command_strings

    template = catalogs.extract(await command_strings())
    if not check_only:
        catalogs.update(template)
    problems = catalogs.check(template)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(template)} messages; {len(problems)} problems.", file=sys.stderr)
    return EXIT_FAILED if check_only and problems else EXIT_OK


def simulator_command(args: argparse.Namespace) -> int:
    from bot.media.probe import check_media
    from bot.simulator import SimulatorConfig, serve

    config = SimulatorConfig(
        pending_seconds=args.pending_seconds,
        running_seconds=args.running_seconds,
        media_checker=check_media,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, config))
    return EXIT_OK
