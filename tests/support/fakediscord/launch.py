"""Point a bot started as a subprocess at the fake: a `sitecustomize.py` on its PYTHONPATH.

Python imports `sitecustomize` at start-up; ours sets discord.py's REST base and gateway URL from
FAKEDISCORD_API and FAKEDISCORD_GATEWAY, and does nothing when they are unset.
"""

from __future__ import annotations

import os
from pathlib import Path

SITECUSTOMIZE = '''\
"""Written by tests/support/fakediscord/launch.py: send discord.py to a fake Discord on loopback."""
import os

_api = os.environ.get("FAKEDISCORD_API")
_gateway = os.environ.get("FAKEDISCORD_GATEWAY")
if _api and _gateway:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # audioop, imported by discord.py
        import discord.gateway
        import discord.http
        import yarl

    discord.http.Route.BASE = _api
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(_gateway)
'''


def write_sitecustomize(folder: Path) -> Path:
    """Write sitecustomize.py into `folder` (a temp dir) and return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return folder


def subprocess_env(api_base: str, gateway_url: str, site_dir: Path) -> dict[str, str]:
    """The current environment plus what the subprocess needs to reach the fake."""
    env = dict(os.environ)
    paths = [str(site_dir), *filter(None, [env.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["FAKEDISCORD_API"] = api_base
    env["FAKEDISCORD_GATEWAY"] = gateway_url
    return env
