"""The command line's grammar: every command, its options and their help (`python -m bot -h`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NoReturn

from bot.domain.catalog import AUDIO_SETTINGS, MODELS, RATIOS, RETIRED, SHOT_TYPES, Region
from bot.i18n import ENGLISH_CODE, LANGUAGE_NAMES, locale_code
from bot.run.cli.exits import EXIT_BAD_INPUT
from bot.usage.report import PERIODS

DESCRIPTION = """\
wanbot: a Discord bot that turns images, audio and clips into videos with Alibaba Cloud's
Wan models, and the tools around it."""
# Where the secrets come from, and how to try everything without spending anything.
KEY_HELP = """\
The DashScope key comes from DASHSCOPE_API_KEY (else dashscope_api_key in
~/.alibabacloud/credentials), the Discord token from DISCORD_TOKEN; every other setting is
a WANBOT_ variable (the README's Configuration)."""
SIMULATOR_GENERATE = """\
  python -m bot simulator --port 8765 &        a fake DashScope on loopback, then:
  DASHSCOPE_API_KEY=sk-test DASHSCOPE_BASE_URL=http://127.0.0.1:8765/api/v1 \\
    python -m bot generate --model wan2.7-i2v --first-frame photo.png --output video.mp4"""
EPILOG = f"""\
{KEY_HELP}

Try it without spending anything:
  python -m bot demo                           every mode against the built-in simulator
  python -m bot run --simulator                the bot in your server, videos from the simulator
{SIMULATOR_GENERATE}"""
GENERATE_EPILOG = f"{KEY_HELP}\n\nTry it against the simulator:\n{SIMULATOR_GENERATE}"
SIMULATOR_HELP = (
    "use the built-in DashScope simulator (no cost), with a database and a spool of its own"
    " beside the real ones (WANBOT_DATABASE_PATH's folder: wanbot-simulator.sqlite3)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bot", description=DESCRIPTION, epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gen = commands.add_parser(
        "generate", help="make one video and download it", epilog=GENERATE_EPILOG
    )
    gen.add_argument(
        "--model",
        required=True,
        help=f"one of: {', '.join(m for m in MODELS if m not in RETIRED)}"
        " (less those in WANBOT_RETIRED_MODELS)",
    )
    gen.add_argument(
        "--first-frame",
        metavar="PATH|URL",
        help="first frame image (none for wan2.7-t2v; optional for wan2.7-r2v)",
    )
    gen.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="PATH|URL",
        help="wan2.7-r2v: a picture or clip to put in the video (repeat for up to 5; the prompt"
        ' names them "Image 1", "Video 1", counted per kind in the order given);'
        " wan2.7-videoedit: a picture to guide the edit (up to 4)",
    )
    gen.add_argument(
        "--video", metavar="PATH|URL", help="wan2.7-videoedit: the clip to edit (mp4/mov, 2-10 s)"
    )
    gen.add_argument(
        "--audio-setting",
        choices=AUDIO_SETTINGS,
        help="wan2.7-videoedit: auto (the model decides from the prompt whether to redo the"
        " sound; the default) or origin (keep the clip's sound)",
    )
    gen.add_argument(
        "--reference-voice",
        action="append",
        default=[],
        metavar="N=PATH|URL",
        help="a voice (wav/mp3, 1-10 s) for the N-th --reference",
    )
    gen.add_argument(
        "--reference-description",
        action="append",
        default=[],
        metavar="N=TEXT",
        help="words about the N-th --reference",
    )
    gen.add_argument("--last-frame", metavar="PATH|URL", help="last frame image")
    gen.add_argument(
        "--audio",
        metavar="PATH|URL",
        help="driving audio (wav or mp3); with wan2.7-t2v, the sound the video follows",
    )
    gen.add_argument("--clip", metavar="PATH|URL", help="first clip to continue (mp4 or mov)")
    gen.add_argument("--template", metavar="NAME", help="effect template (wanx2.1-kf2v-plus)")
    gen.add_argument("--prompt", metavar="TEXT")
    gen.add_argument("--negative-prompt", metavar="TEXT")
    gen.add_argument("--resolution", metavar="480P|720P|1080P", help="(default: the model's)")
    gen.add_argument(
        "--duration",
        type=int,
        metavar="N",
        help="seconds (default: the model's; wan2.7-videoedit: the clip's length)",
    )
    gen.add_argument(
        "--ratio",
        metavar="|".join(RATIOS),
        help="the video's shape, for a model without a first frame (wan2.7-t2v, wan2.7-r2v;"
        " default: the model's)",
    )
    gen.add_argument(
        "--shot-type",
        choices=SHOT_TYPES,
        help="one continuous shot or several, for wan2.6 models (default: single; multi needs"
        " the prompt extended)",
    )
    gen.add_argument("--seed", type=int, metavar="N")
    gen.add_argument("--no-prompt-extend", action="store_true", help="do not rewrite the prompt")
    gen.add_argument("--watermark", action="store_true", help='add the "AI generated" mark')
    gen.add_argument(
        "--base-url",
        metavar="URL",
        help="e.g. https://dashscope.aliyuncs.com/api/v1 (default: DASHSCOPE_BASE_URL, else the"
        " region's)",
    )
    gen.add_argument(
        "--region", choices=[r.value for r in Region], help="(default: WANBOT_REGION, else beijing)"
    )
    gen.add_argument("--output", required=True, type=Path, metavar="FILE.mp4")

    demo = commands.add_parser("demo", help="run every mode against the built-in simulator")
    demo.add_argument(
        "--output-dir", type=Path, default=Path("output/demo"), help="the videos and the evidence"
    )

    demo_scale = commands.add_parser(
        "demo-scale",
        help="two worker processes on a throwaway PostgreSQL; the scheduler is killed half way",
    )
    demo_scale.add_argument(
        "--output-dir", type=Path, default=Path("output/demo-scale"), help="the videos"
    )

    run = commands.add_parser("run", help="run the Discord bot (needs DISCORD_TOKEN)")
    run.add_argument("--simulator", action="store_true", help=SIMULATOR_HELP)

    worker = commands.add_parser(
        "worker", help="run the engine without the gateway (several processes: see the README)"
    )
    worker.add_argument("--simulator", action="store_true", help=SIMULATOR_HELP)
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

    backup = commands.add_parser(
        "backup",
        help="copy the SQLite database (WANBOT_DATABASE_PATH) to a file, safely while the bot runs",
    )
    backup.add_argument("--output", required=True, type=Path, metavar="FILE")
    backup.add_argument("--force", action="store_true", help="replace FILE if it exists")

    usage = commands.add_parser(
        "usage", help="draw a server's usage chart, as /videoadmin quota usage attaches it"
    )
    usage.add_argument("--guild", required=True, type=_guild_id, metavar="ID", help="server id")
    usage.add_argument("--output", required=True, type=Path, metavar="FILE.png")
    usage.add_argument(
        "--period", choices=PERIODS, default="current", help="the quota period to draw"
    )
    usage.add_argument("--csv", type=Path, metavar="FILE", help="also write the period's ledger")
    usage.add_argument(
        "--language",
        type=locale_code,  # "en", "es_419", "pt-br" as Discord spells them
        choices=list(LANGUAGE_NAMES),
        default=ENGLISH_CODE,
        metavar="CODE",
        help=f"the chart's words: one of {', '.join(LANGUAGE_NAMES)}, or en",
    )

    sync = commands.add_parser("sync", help="push the slash commands to Discord")
    sync.add_argument("--guild", type=int, metavar="ID", help="one server (instant) instead of all")

    payloads = commands.add_parser(
        "commands", help="print the slash commands as the JSON `sync` sends (no token needed)"
    )
    payloads.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # the default
    payloads.add_argument(
        "--list", action="store_true", help="one line per command instead (/video animate: …)"
    )

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
    sim.add_argument("--port", type=int, default=8765, help="on 127.0.0.1")
    sim.add_argument(
        "--pending-seconds", type=float, default=5.0, help="how long a task waits in the queue"
    )
    sim.add_argument("--running-seconds", type=float, default=20.0, help="how long it then runs")
    return parser


def _guild_id(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"a server id is a number, not {text!r}")
    return int(text)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's lines as written, and ends each option's help with its default (when
    it has one worth showing)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            action.default in (None, False, argparse.SUPPRESS)
            or not action.option_strings
            or "%(default)" in text
            or text == argparse.SUPPRESS
        ):
            return action.help
        return f"{text} (default: %(default)s)".lstrip()


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Print one line (not the usage block) and exit 2."""
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message}\n")
