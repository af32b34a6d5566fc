"""``churnguard serve`` (the REST API on uvicorn) and ``churnguard users`` (accounts and keys)."""

from __future__ import annotations

import getpass
import logging
import os
from typing import Annotated

import typer
from rich.table import Table

from ..errors import InputError
from ._common import JsonOpt, WorkspaceOpt, console, emit_json, err_console, settings_for

__all__ = ["register"]


def _cli_actor() -> str:
    """Who ran a ``users`` command, for the audit log (the operating-system account)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


users_app = typer.Typer(help="Users and API keys of the REST API.", no_args_is_help=True)


def serve(
    workspace: WorkspaceOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Start the REST API and the dashboard (/ui/; OpenAPI docs at /docs, health at /health)."""
    import uvicorn

    from ..service import create_app

    # one OpenMP thread per process: the server shares the cores with its callers
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if log_level in ("info", "debug", "trace"):
        # the service's access log (request id, path, status, time, user): no personal data
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        service_log = logging.getLogger("churnguard.service")
        service_log.addHandler(handler)
        service_log.setLevel(logging.INFO)
        service_log.propagate = False
    app = create_app(settings_for(workspace))
    from ..service.scoring import freeze_heap_after_loads

    freeze_heap_after_loads()  # no full GC pass over the loaded model and scores per request burst
    err_console.print(f"churnguard API on http://{host}:{port}  (docs: /docs, dashboard: /ui/)")
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ - @).")],
    role: Annotated[str, typer.Option(help="admin, manager, analyst or agent.")],
    queue: Annotated[
        list[str] | None, typer.Option("--queue", help="A queue the agent works (repeatable).")
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding a password for web sign-in."),
    ] = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a user and print its API key (shown only this once)."""
    from ..service.audit import append
    from ..service.auth import create_user

    password = None
    if password_env is not None:
        password = os.environ.get(password_env)
        if not password:
            raise InputError(f"environment variable {password_env} is not set or empty")
    settings = settings_for(workspace)
    user, key = create_user(settings, name, role=role, queues=queue or (), password=password)
    append(
        settings,
        actor=_cli_actor(),
        role=None,
        action="user.created",
        target=f"user:{user['name']}",
        details={"role": role, "queues": user["queues"], "password": password is not None},
    )
    if json_out:
        emit_json({**user, "api_key": key})
        return
    err_console.print(
        f"user {user['name']} ({role}"
        + (f"; queues {', '.join(user['queues'])}" if user["queues"] else "")
        + "). The API key is shown only now; store it safely:"
    )
    if role == "agent" and not user["queues"]:
        err_console.print("[yellow]this agent has no queue yet: it sees no customers[/yellow]")
    typer.echo(key)  # plain, unwrapped: scripts read the last line


@users_app.command("list")
def users_list(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """List users, roles, queues and the visible prefixes of their keys."""
    from ..service.auth import list_users

    users = list_users(settings_for(workspace))
    if json_out:
        emit_json(users)
        return
    table = Table("name", "role", "queues", "active", "password", "keys", "created")
    for u in users:
        table.add_row(
            u["name"],
            u["role"],
            ", ".join(u["queues"]),
            "yes" if u["active"] else "revoked",
            "yes" if u["has_password"] else "no",
            ", ".join(u["keys"]),
            u["created_at"][:19],
        )
    console.print(table)


@users_app.command("revoke")
def users_revoke(
    name: Annotated[str, typer.Argument(help="User name.")],
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Deactivate a user: their keys and sessions stop working at once."""
    from ..service.audit import append
    from ..service.auth import revoke_user

    settings = settings_for(workspace)
    out = revoke_user(settings, name)
    append(settings, actor=_cli_actor(), role=None, action="user.revoked", target=f"user:{name}")
    if json_out:
        emit_json(out)
        return
    console.print(f"user {name} revoked ({out['keys_revoked']} key(s))")


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``users`` to the CLI."""
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
