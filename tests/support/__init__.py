"""What tests import from one another lives here, never in a test module.

- engine_rig: the engine on the simulator with its clock (the tests' `rig`, bench/benchlib.py's)
- provider: the simulator's test key, recorded sleeps, small requests for the client's tests
- postgres: a schema per test, the password role, short link limits; pgproxy: faults on the wire
- quotas: reservations, commits and refunds at the quota store; admin: /videoadmin as called
- video_rig: /video at the Discord edge on a real engine; discord_fakes: specced discord.py fakes
- cluster: engines on one database, watched; media: noisy videos and PNG pixels
- fakediscord: the fake Discord (gateway and REST) the end-to-end tests and the benches talk to
- e2e: sample inputs and readers of what a bot did; bot_process: wanbot as a subprocess
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the project's folder
