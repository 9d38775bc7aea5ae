"""The local store: one SQLite file shared by the workers, the UI thread and the CLI."""

from agent.store.db import Store, StoreError, open_store

__all__ = ["Store", "StoreError", "open_store"]
