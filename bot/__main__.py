"""Entry point: `python -m bot <command>`."""

from bot.run.cli import main

raise SystemExit(main())
