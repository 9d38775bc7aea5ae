"""The BNG test double: a faithful fake of BNG's REST API v1 (see shared/bng-api/openapi.yaml).

`BngServer` serves the API over real HTTP with BNG's gateway rules (API key, company header,
rate limit) and the sandbox's fault injection; `BngState` is the company behind it, with the
back-office operations tests use to play the ERP's users (ship, deliver, receive stock...).
"""

from agent.sandbox.bng.errors import BngError
from agent.sandbox.bng.server import BngServer
from agent.sandbox.bng.state import BngState, load_sample_data

__all__ = ["BngError", "BngServer", "BngState", "load_sample_data"]
