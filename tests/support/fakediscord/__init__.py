"""A fake Discord on loopback (gateway, REST, CDN) that discord.py itself talks to, for tests."""

from tests.support.fakediscord.launch import subprocess_env, write_sitecustomize
from tests.support.fakediscord.model import Interaction, Message, Upload, User
from tests.support.fakediscord.server import FakeDiscord

__all__ = [
    "FakeDiscord",
    "Interaction",
    "Message",
    "Upload",
    "User",
    "subprocess_env",
    "write_sitecustomize",
]
