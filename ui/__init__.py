"""bngsync's desktop app (Qt): tray icon, dashboard, errors, history, mappings, settings, setup.

Everything here talks to the agent only through `agent.service.Service`, and only off the UI
thread (`ui.bridge`); nothing in `agent/` imports Qt.
"""
