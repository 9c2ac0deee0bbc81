"""The tarve REST API: service-need suggestions for caseworkers' client systems.

A *served model* (a :class:`models.ServiceNeedModel` loaded from MLflow or a folder)
sits in a holder that swaps it atomically on reload. Requests are validated by
pydantic models *generated from that model's schema*, so the OpenAPI document always
matches the model served. Every call is authenticated by an API key with a role
(caseworker, auditor, admin); every access to a client's data writes one audit-log row
(SQLite or PostgreSQL, migrated with Alembic), never the profile itself, and a request
holding anything like a personal identity code is refused before any route sees it.
Errors are RFC 9457 problem details. Build the app with :func:`create_app`; run it
with ``tarve serve``.

The names below are imported on first use, so that ``tarve --help`` (which registers
this package's subcommands) does not load the web stack.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.app import create_app
    from service.settings import Settings, get_settings

__all__ = ["Settings", "create_app", "get_settings"]
_HOMES = {
    "create_app": "service.app",
    "Settings": "service.settings",
    "get_settings": "service.settings",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'service' has no attribute {name!r}")
