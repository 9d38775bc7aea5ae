"""The nopCommerce test double: the community API plugin (4.90 fork) with a simulated store behind it.

`NopServer` is the entry point; `NopState`, `ShopperSimulator` and `WebhookSender` are reachable
as its `.state`, `.shoppers` and `.webhooks`.
"""

from agent.sandbox.nop.server import NopServer
from agent.sandbox.nop.shoppers import ShopperSimulator
from agent.sandbox.nop.state import NopState
from agent.sandbox.nop.webhooks import WebhookSender, sign

__all__ = ["NopServer", "NopState", "ShopperSimulator", "WebhookSender", "sign"]
