"""``crisisrisk serve``, ``crisisrisk up``, ``crisisrisk users ...`` and ``crisisrisk tokens ...``
(registered on the main program by ``register``).

``serve`` runs in production mode unless ``--debug`` or ``CRISISRISK_ENV=development``: it refuses to start
without ``CRISISRISK_SECRET_KEY``. ``up`` (the fresh-clone command) makes a random key for this run when none
is set (sessions end when it stops) and makes the read-only pages public unless ``CRISISRISK_PUBLIC_READ``
says otherwise; analyst actions need an account (``crisisrisk users add NAME --role analyst``).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Annotated

import typer
from rich.console import Console

from warehouse import settings

log = logging.getLogger(__name__)
console = Console(width=None if sys.stdout.isatty() else 200)
DEFAULT_HOST = settings.get("CRISISRISK_HOST")
DEFAULT_PORT = settings.get("CRISISRISK_PORT")
HostOpt = Annotated[str, typer.Option("--host", help="Interface to listen on (0.0.0.0 for all).")]
PortOpt = Annotated[int, typer.Option("--port", help="TCP port.")]
DebugOpt = Annotated[
    bool, typer.Option("--debug", help="Dash development server with hot reload (not for production).")
]
ThreadsOpt = Annotated[int, typer.Option("--threads", help="Worker threads of the production server.")]


def _mode(debug: bool) -> str:
    env = (settings.get("CRISISRISK_ENV") or "").strip().lower()
    return "development" if debug or env == "development" else "production"


def port_in_use(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (one line suggesting --port), or None when it can (issue 13 #9:
    a taken port gave an 89-line traceback from the server, after minutes of `up`'s ETL and training)."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return f"cannot listen on {host}:{port}: unknown host ({exc}); give --host an address of this machine"
    family, _type, _proto, _name, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} on {host} is already in use (another crisisrisk serve?); "
                    f"choose another with --port, e.g. --port {port + 1}"
                )
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --host or --port"
    return None


def _exit_if_port_taken(host: str, port: int) -> None:
    problem = port_in_use(host, port)
    if problem:
        console.print(f"[red]✗ {problem}[/red]", highlight=False)
        raise typer.Exit(2)


def _warm_map_in_background(server) -> threading.Thread:
    """Build the world map's geometry and default view while the server starts, so the first visitor does not
    wait for them (about 4 s of server time cold on the shipped data, 0.1 s warm)."""
    from dashboard.pages import map as map_page

    worker = threading.Thread(target=map_page.warm, args=(server,), name="warm-map", daemon=True)
    worker.start()
    return worker


def _serve(host: str, port: int, debug: bool, threads: int = 8, app_config: dict | None = None) -> None:
    from dashboard.app import create_app
    from dashboard.auth import ConfigError
    from warehouse.db import make_engine

    _exit_if_port_taken(host, port)
    started = time.perf_counter()
    try:
        app = create_app(make_engine(), {"env": _mode(debug), **(app_config or {})})
    except ConfigError as exc:
        console.print(f"[red]✗ cannot start:[/red] {exc}")
        raise typer.Exit(2) from None
    public = app.server.config.get("CRISISRISK_PUBLIC_READ")
    console.print(
        f"Mode: {app.server.config.get('CRISISRISK_ENV')}; read-only pages "
        f"{'[green]public[/green] (CRISISRISK_PUBLIC_READ=true)' if public else 'need a viewer login'}; "
        "admin page and analyst API need an analyst login or token"
    )
    ctx = app.server.extensions["crisisrisk"]
    run = ctx.queries.run_id
    _warm_map_in_background(app.server)
    console.print(
        f"[green]✓[/green] app ready in {time.perf_counter() - started:.1f} s; deployed model: "
        f"{run or '[yellow]none (pages say how to train one)[/yellow]'}"
    )
    console.print(
        f"Serving on [bold]http://{host}:{port}/[/bold]  (API: http://{host}:{port}/api/v1/openapi.json)"
    )
    if debug:
        console.print("[yellow]Dash development server (--debug): do not use in production.[/yellow]")
        app.run(host=host, port=port, debug=True)
        return
    from waitress import serve

    _exit_if_port_taken(host, port)  # taken while the app was built
    serve(app.server, host=host, port=port, threads=threads, ident="crisisrisk")


def serve_cmd(
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    debug: DebugOpt = False,
    threads: ThreadsOpt = 8,
) -> None:
    """Serve the dashboard and the JSON API (waitress; the Dash dev server only with --debug)."""
    _serve(host, port, debug, threads)


def up_cmd(
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    debug: DebugOpt = False,
    threads: ThreadsOpt = 8,
) -> None:
    """Build what is missing, then serve: ETL if the warehouse has no loads, training if no model is deployed.

    Without CRISISRISK_SECRET_KEY a random key is made for this run (sessions end when it stops); the
    read-only
    pages are public unless CRISISRISK_PUBLIC_READ is set.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from sqlalchemy import func, select

    from warehouse.db import make_engine, migrate
    from warehouse.schema import model_run, source_load

    _exit_if_port_taken(host, port)  # before minutes of ETL and training, not after
    engine = make_engine()
    console.print(f"Warehouse: {engine.url.render_as_string(hide_password=True)}")
    migrate(engine)
    with engine.connect() as conn:
        loads = conn.execute(
            select(func.count()).select_from(source_load).where(source_load.c.status == "loaded")
        ).scalar_one()
    if loads == 0:
        from etl.loader import run
        from etl.sources import all_sources

        sources = all_sources()
        console.print(
            f"[bold]1/3 ETL[/bold]: the warehouse has no loads; loading {len(sources)} sources from data/raw"
        )
        failed = []
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("ETL", total=len(sources))

            def step(msg: str) -> None:
                progress.update(task, description=msg[:70])

            def done(result) -> None:
                progress.advance(task)
                mark = "[red]✗[/red]" if result.status == "failed" else "[green]✓[/green]"
                progress.console.print(
                    f"{mark} {result.source}: {result.status}"
                    + (f" ({result.error})" if result.error else f", {result.observations:,} obs.")
                )
                if result.status == "failed":
                    failed.append(result.source)

            run(engine, progress=step, on_result=done)
        if failed:
            console.print(
                f"[yellow]{len(failed)} source(s) failed: {', '.join(failed)}; continuing with the"
                " rest.[/yellow]"
            )
    else:
        console.print(
            f"[bold]1/3 ETL[/bold]: {loads} current loads in the warehouse; skipped "
            "(run `crisisrisk etl run` to refresh)"
        )
    with engine.connect() as conn:
        deployed = conn.execute(select(model_run.c.run_id).where(model_run.c.status == "deployed")).scalar()
    if deployed is None:
        console.print(
            "[bold]2/3 model[/bold]: no deployed model; training one (backtests included, takes minutes)"
        )
        from models.pipeline import train_run
        from models.progress import TrainClock

        clock = TrainClock()
        with Progress(SpinnerColumn(), BarColumn(), TextColumn("{task.description}"), console=console) as bar:
            task = bar.add_task("training", total=100)

            def progress_cb(event) -> None:  # one updating line: step k of n, fits done, elapsed, ETA
                from models.progress import percent_done

                bar.update(task, completed=percent_done(event), description=clock.line(event)[:150])

            run_id = train_run(engine, deploy=True, progress=progress_cb)
        console.print(f"[green]✓[/green] deployed model {run_id}")
    else:
        console.print(
            f"[bold]2/3 model[/bold]: deployed model {deployed}; skipped (`crisisrisk model train` retrains)"
        )
    if loads == 0 or deployed is None:
        # new data or a new model: the phase curves and the alert rules follow, as after `etl run` and `model
        # train`
        from models.post_change import run_and_report

        with console.status("crisis phases and alerts…"):
            run_and_report(engine, "up", console.print)
    engine.dispose()
    console.print("[bold]3/3 serve[/bold]")
    app_config: dict = {}
    if not settings.is_set("CRISISRISK_SECRET_KEY"):
        import secrets as _secrets

        app_config["secret_key"] = _secrets.token_urlsafe(48)
        console.print(
            "[yellow]No CRISISRISK_SECRET_KEY: using a random key for this run (sign-ins end when it "
            "stops). Set it to keep sessions across restarts.[/yellow]"
        )
    if not settings.is_set("CRISISRISK_PUBLIC_READ"):
        app_config["public_read"] = True
    _print_accounts_hint()
    _serve(host, port, debug, threads, app_config)


def _print_accounts_hint() -> None:
    try:
        from sqlalchemy import func, select

        from warehouse.db import make_engine
        from warehouse.schema import app_user

        engine = make_engine()
        with engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(app_user)).scalar_one()
        engine.dispose()
    except Exception:  # noqa: BLE001 - only a hint
        n = 0
    if n == 0:
        console.print(
            "Uploads, retraining and promotion (/admin) need an analyst account: "
            "[bold]crisisrisk users add NAME --role analyst[/bold]"
        )


# --- users and tokens
users_app = typer.Typer(
    help="Dashboard accounts (viewer, analyst, admin); passwords stored as scrypt hashes.",
    no_args_is_help=True,
)
tokens_app = typer.Typer(
    help="API tokens for scripts (Authorization: Bearer <token>); stored as SHA-256.", no_args_is_help=True
)


def _engine():
    from warehouse.db import make_engine, migrate

    engine = make_engine()
    migrate(engine)
    return engine


def _cli_actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001
        return "cli"


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (at least 2 characters).")],
    role: Annotated[str, typer.Option("--role", help="viewer, analyst or admin.")] = "viewer",
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of stdin "
            "(scripts); otherwise it is asked twice, hidden.",
        ),
    ] = False,
) -> None:
    """Create a user; the password (at least 10 characters) is asked twice with hidden input."""
    from warehouse.accounts import AccountError, add_user, audit

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    engine = _engine()
    try:
        user_id = add_user(engine, name, role, password)
    except AccountError as exc:
        audit(engine, _cli_actor(), "user add", "refused", name, str(exc))
        console.print(f"[red]✗[/red] {exc}")
        raise typer.Exit(1) from None
    audit(engine, _cli_actor(), "user add", "ok", name, f"role {role}, user id {user_id}")
    console.print(f"[green]✓[/green] user '{name.strip()}' ({role}) created")


@users_app.command("list")
def users_list() -> None:
    """List users with their role (never their password hash)."""
    from sqlalchemy import select

    from warehouse.schema import app_user

    engine = _engine()
    with engine.connect() as conn:
        rows = conn.execute(
            select(app_user.c.name, app_user.c.role, app_user.c.created_at, app_user.c.disabled).order_by(
                app_user.c.name
            )
        ).all()
    if not rows:
        console.print("No users yet: crisisrisk users add NAME --role analyst")
        return
    for r in rows:
        console.print(
            f"{r.name:<24} {r.role:<8} created {str(r.created_at)[:19]}"
            + ("  [red]disabled[/red]" if r.disabled else "")
        )


def _account_change(action: str, name: str, change, detail: str) -> None:
    """Run one account change, audit it and say what happened (exit 1 on an AccountError)."""
    from warehouse.accounts import AccountError, audit

    engine = _engine()
    try:
        change(engine)
    except AccountError as exc:
        audit(engine, _cli_actor(), action, "refused", name, str(exc))
        console.print(f"[red]✗[/red] {exc}")
        raise typer.Exit(1) from None
    audit(engine, _cli_actor(), action, "ok", name, detail)
    console.print(f"[green]✓[/green] {detail}")


@users_app.command("passwd")
def users_passwd(
    name: Annotated[str, typer.Argument(help="The user.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from stdin.")
    ] = False,
) -> None:
    """Set a new password (asked twice, hidden); every session of the user ends."""
    from warehouse.accounts import set_password

    password = (
        sys.stdin.readline().rstrip("\r\n")
        if password_stdin
        else typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    )
    _account_change(
        "user passwd",
        name,
        lambda engine: set_password(engine, name, password),
        f"password of '{name}' changed; their sessions ended",
    )


@users_app.command("role")
def users_role(
    name: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[str, typer.Argument(help="viewer, analyst or admin.")],
) -> None:
    """Change a user's role; every session of the user ends (their API tokens take the new role at once)."""
    from warehouse.accounts import set_role

    _account_change(
        "user role",
        name,
        lambda engine: set_role(engine, name, role),
        f"'{name}' is now {role}; their sessions ended",
    )


@users_app.command("disable")
def users_disable(
    name: Annotated[str, typer.Argument(help="The user.")],
    enable: Annotated[bool, typer.Option("--enable", help="Enable the user again.")] = False,
) -> None:
    """Disable a user (sessions end, tokens stop working), or enable them again with --enable."""
    from warehouse.accounts import set_disabled

    _account_change(
        "user enable" if enable else "user disable",
        name,
        lambda engine: set_disabled(engine, name, not enable),
        f"'{name}' {'enabled' if enable else 'disabled; their sessions ended'}",
    )


@users_app.command("logout")
def users_logout(name: Annotated[str, typer.Argument(help="The user.")]) -> None:
    """End every session of a user now (e.g. a lost laptop); they sign in again."""
    from warehouse.accounts import AccountError, end_sessions

    def end(engine) -> None:
        if not end_sessions(engine, name):
            raise AccountError(f"unknown user '{name}'")

    _account_change("user logout", name, end, f"every session of '{name}' ended")


@users_app.command("unlock")
def users_unlock(
    name: Annotated[str, typer.Argument(help="The user locked out by failed sign-ins.")],
) -> None:
    """Let a user locked out by failed sign-ins (429) sign in again at once; audited."""
    from warehouse.accounts import AccountError, unlock_login

    engine = _engine()
    try:
        cleared = unlock_login(engine, name, _cli_actor())
    except AccountError as exc:
        console.print(f"[red]✗[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"[green]✓[/green] '{name}' unlocked ({cleared} failed sign-in(s) of the last day no longer count)"
    )


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="A label for the token, e.g. 'nightly-upload'.")],
    user: Annotated[str, typer.Option("--user", help="The user the token acts as (its role).")],
) -> None:
    """Create an API token; it is printed once and only its SHA-256 is stored."""
    from warehouse.accounts import AccountError, audit, create_token

    engine = _engine()
    try:
        token = create_token(engine, user, name)
    except AccountError as exc:
        audit(engine, _cli_actor(), "token create", "refused", name, str(exc))
        console.print(f"[red]✗[/red] {exc}")
        raise typer.Exit(1) from None
    audit(engine, _cli_actor(), "token create", "ok", name, f"for user {user}")
    console.print("Token (shown once; store it safely):", style="bold")
    print(token)


@tokens_app.command("revoke")
def tokens_revoke(name: Annotated[str, typer.Argument(help="The token's label.")]) -> None:
    """Revoke every token with this label."""
    from warehouse.accounts import audit, revoke_token

    engine = _engine()
    n = revoke_token(engine, name)
    audit(engine, _cli_actor(), "token revoke", "ok" if n else "refused", name, f"{n} token(s) revoked")
    if not n:
        console.print(f"[red]✗[/red] no token named '{name}'")
        raise typer.Exit(1)
    console.print(f"[green]✓[/green] revoked {n} token(s) named '{name}'")


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``up`` to the ``crisisrisk`` program."""
    app.command("serve")(serve_cmd)
    app.command("up")(up_cmd)
    from dashboard.brief import brief_cmd

    app.command("brief")(brief_cmd)  # the region's one-page PDF brief (issue 13)
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
