"""The one error the transformation rules raise.

A mapping problem is a fact about the data or the mapping tables, not about the network: sending
the same order again will fail the same way until somebody fixes the order or the table. So the
engine must not retry it; it parks the job in quarantine and shows `reason` to the merchant, who
can act on it (add a status to the table, correct an address, widen a choice list).
"""

from __future__ import annotations

from typing import ClassVar


class MappingError(Exception):
    """A record cannot be translated; `reason` says why in words a merchant understands."""

    error_class: ClassVar[str] = "validation"
    retryable: ClassVar[bool] = False

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)

    def __str__(self) -> str:
        return self.reason
