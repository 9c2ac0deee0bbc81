"""Subcommands of this package for the `tarve` command line.

- ``tarve serve [--host 127.0.0.1] [--port 8000] [--model URI|PATH]``: run the API;
- ``tarve keys create --role R --name N`` (prints the key once), ``tarve keys list``,
  ``tarve keys revoke --name N``;
- ``tarve db upgrade``: run the audit-log database migrations.

The database is ``TARVE_DATABASE_URL`` (default SQLite under ``TARVE_HOME``).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the web stack is imported only by the subcommands that need it
    from service.settings import Settings

MSG_KEY_CREATED = """\
Created {role} key {name!r}. It is shown only now; store it safely:

{token}

Send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'."""


def register(subparsers: Any) -> None:
    """Add this package's subcommands to the `tarve` parser."""
    serve = subparsers.add_parser("serve", help="run the REST API (uvicorn, one process)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--model", default=None, help="model URI or directory (default: TARVE_MODEL_URI)"
    )
    serve.add_argument(
        "--reload-interval",
        type=float,
        default=None,
        help="poll the model URI every N seconds and reload when its version changed",
    )
    serve.add_argument("--log-level", default="info", help="uvicorn log level")
    serve.set_defaults(handler=_serve)

    keys = subparsers.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = key_commands.add_parser("create", help="create a key and print it once")
    create.add_argument("--role", required=True, choices=["caseworker", "auditor", "admin"])
    create.add_argument("--name", required=True, help="a unique name, e.g. ura-prod or j.virtanen")
    create.set_defaults(handler=_keys_create)
    listing = key_commands.add_parser("list", help="list keys (names, roles; never the keys)")
    listing.set_defaults(handler=_keys_list)
    revoke = key_commands.add_parser("revoke", help="revoke a key")
    revoke.add_argument("--name", required=True)
    revoke.set_defaults(handler=_keys_revoke)

    database = subparsers.add_parser("db", help="the audit-log database")
    db_commands = database.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="run the migrations to the latest version")
    upgrade.set_defaults(handler=_db_upgrade)


def _database(settings: Settings | None = None) -> Any:
    from service.db import Database
    from service.settings import Settings

    database = Database((settings or Settings()).database_url)
    database.upgrade()
    return database


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import create_app
    from service.http_limits import server_config
    from service.settings import Settings

    overrides: dict[str, Any] = {}
    if args.model:
        overrides["model_uri"] = args.model
    if args.reload_interval:
        overrides["reload_interval_seconds"] = args.reload_interval
    settings = Settings(**overrides)
    app = create_app(settings)
    # No access log: a refused request's URL could hold an identity code, and the audit
    # log and the metrics already record every call that matters.
    config = server_config(
        app, settings, host=args.host, port=args.port, log_level=args.log_level, access_log=False
    )
    uvicorn.Server(config).run()
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    from service.auth import InvalidKeyName, KeyNameTaken, create_key

    try:
        info, token = create_key(_database(), name=args.name, role=args.role)
    except (InvalidKeyName, KeyNameTaken) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(MSG_KEY_CREATED.format(role=info.role.value, name=info.name, token=token))
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from service.auth import list_keys

    del args
    rows = list_keys(_database())
    if not rows:
        print("no keys; create one with: tarve keys create --role caseworker --name NAME")
        return 0
    print(f"{'name':<30} {'role':<11} {'key begins':<25} {'created (UTC)':<20} revoked")
    for info in rows:
        revoked = info.revoked_at.strftime("%Y-%m-%d %H:%M") if info.revoked_at else "-"
        created = info.created_at.strftime("%Y-%m-%d %H:%M")
        print(f"{info.name:<30} {info.role.value:<11} {info.prefix:<25} {created:<20} {revoked}")
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from service.auth import revoke_key

    if not revoke_key(_database(), args.name):
        print(f"error: no active key named {args.name!r}", file=sys.stderr)
        return 1
    print(f"revoked {args.name!r} (running servers stop accepting it within seconds)")
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from service.settings import Settings

    del args
    settings = Settings()
    _database(settings).dispose()
    print(f"database at head: {_safe_url(settings.database_url)}")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
