"""The command line's grammar: every command, its options and their help (`python -m bot -h`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from bot.catalog import MODELS, Region
from bot.cli.exits import EXIT_BAD_INPUT
from bot.i18n import ENGLISH_CODE, LANGUAGE_NAMES
from bot.usage_report import PERIODS

DESCRIPTION = (
    "wanbot: a Discord bot that turns images, audio and clips into videos with Alibaba Cloud's"
    " Wan models, and the tools around it."
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bot", description=DESCRIPTION)
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
        choices=list(LANGUAGE_NAMES),
        default=ENGLISH_CODE,
        metavar="CODE",
        help=f"the chart's words: one of {', '.join(LANGUAGE_NAMES)} (default: %(default)s)",
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
