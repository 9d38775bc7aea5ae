"""Secrets live only in the OS keyring (service `bngsync`), or in environment variables.

Windows uses the Credential Manager, macOS the Keychain, Linux the Secret Service. Headless
machines and CI have no keyring, so `BNGSYNC_NOP_PASSWORD`, `BNGSYNC_BNG_API_KEY` and
`BNGSYNC_WEBHOOK_SECRET` override it. Every value read here is registered with the log redactor,
so it cannot leak into a log line even by accident.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import keyring
from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

from agent import logs

SERVICE = "bngsync"


@dataclass(frozen=True)
class SecretSpec:
    name: str          # keyring user name under the service
    env: str           # environment override
    label: str         # what a person calls it


SECRETS: dict[str, SecretSpec] = {
    "nopcommerce": SecretSpec("nopcommerce.password", "BNGSYNC_NOP_PASSWORD", "nopCommerce API user's password"),
    "nopcommerce-token": SecretSpec("nopcommerce.token", "BNGSYNC_NOP_TOKEN", "nopCommerce access token"),
    "bng": SecretSpec("bng.api_key", "BNGSYNC_BNG_API_KEY", "BNG API key"),
    "webhook": SecretSpec("webhooks.secret", "BNGSYNC_WEBHOOK_SECRET", "webhook signing secret"),
    "smtp": SecretSpec("alerts.smtp_password", "BNGSYNC_SMTP_PASSWORD", "SMTP password"),
}


class SecretError(Exception):
    """A secret is missing or the keyring cannot be used; the message says what to do."""


def _spec(which: str) -> SecretSpec:
    try:
        return SECRETS[which]
    except KeyError:
        raise SecretError(f"unknown secret {which!r}; known: {', '.join(SECRETS)}") from None


def get(which: str, required: bool = True) -> str | None:
    """The secret's value: environment first, then the keyring."""
    spec = _spec(which)
    value = os.environ.get(spec.env)
    if not value:
        try:
            value = keyring.get_password(SERVICE, spec.name)
        except NoKeyringError:
            value = None
            if required:
                raise SecretError(f"the {spec.label} is not set and this machine has no keyring: "
                                  f"set {spec.env} in the environment") from None
        except KeyringError as exc:
            raise SecretError(f"the keyring could not be read ({exc}); set {spec.env} instead") from None
    if value:
        logs.register_secret(value)
        return value
    if required:
        raise SecretError(f"the {spec.label} is not set: run `bngsync secrets set {which}` "
                          f"or set {spec.env}")
    return None


def set(which: str, value: str) -> None:
    spec = _spec(which)
    if not value:
        raise SecretError(f"the {spec.label} must not be empty")
    try:
        keyring.set_password(SERVICE, spec.name, value)
    except NoKeyringError:
        raise SecretError(f"this machine has no keyring to store the {spec.label}; "
                          f"set {spec.env} in the environment instead") from None
    except KeyringError as exc:
        raise SecretError(f"the keyring refused the {spec.label}: {exc}") from None
    logs.register_secret(value)


def clear(which: str) -> bool:
    """Remove a secret from the keyring; False when there was none."""
    spec = _spec(which)
    try:
        keyring.delete_password(SERVICE, spec.name)
    except PasswordDeleteError:
        return False
    except NoKeyringError:
        raise SecretError("this machine has no keyring; nothing is stored there") from None
    return True


def is_set(which: str) -> bool:
    try:
        return get(which, required=False) is not None
    except SecretError:
        return False
