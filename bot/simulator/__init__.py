"""A fake DashScope for the Wan image-to-video models: an aiohttp app on loopback.

It follows ../shared/dashscope-api.md: the same paths, headers, bodies, answers, error codes, rate
limits, upload flow and usage blocks, with task states computed from an injectable clock so tests
never sleep. The demo, the tests and the benchmarks run against it without credentials or network.

config      how it behaves (SimulatorConfig) and what its pieces share
wire        answer envelopes, error answers, request keys
validation  whether a create-task body is acceptable; what its visible inputs are
uploads     the fake OSS: upload policies and stored files
lifecycle   a task's state, times and usage as a function of the clock
results     signed result URLs and the videos behind them
drawing     what those videos show: the inputs, the model, the mode and the prompt
tasks       create, query, cancel and list, within the rate limits
faults      scripted and random faults per API request
app         the aiohttp app composing them: routes, auth, request record, serve
"""

from bot.simulator.app import RecordedRequest, Simulator, serve
from bot.simulator.config import SimulatorConfig
from bot.simulator.lifecycle import SimTask
from bot.simulator.uploads import StoredUpload

__all__ = [
    "RecordedRequest",
    "SimTask",
    "Simulator",
    "SimulatorConfig",
    "StoredUpload",
    "serve",
]
