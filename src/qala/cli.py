"""The ``qala`` command: serve, db, users, modules, dev, and every module's own commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from qala.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

app = typer.Typer(help="Qala smart-city platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Users and roles.", no_args_is_help=True)
modules_app = typer.Typer(help="Installed modules.", no_args_is_help=True)
dev_app = typer.Typer(help="Developer tools.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(modules_app, name="modules")
app.add_typer(dev_app, name="dev")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port."),
    workers: int = typer.Option(1, help="Worker processes (stateless; share the database)."),
    reload: bool = typer.Option(False, help="Reload on code changes (development)."),
) -> None:
    """Serve the API and dashboard."""
    import uvicorn

    uvicorn.run(
        "qala.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
    )


def _alembic_config() -> Config:
    from qala.core.migrations import alembic_config

    return alembic_config(Settings().effective_database_url)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("heads")) -> None:
    """Apply migrations up to ``revision``."""
    from qala.core.migrations import upgrade

    upgrade(Settings().effective_database_url, revision)
    typer.echo("Database is up to date.")


@db_app.command("check")
def db_check() -> None:
    """Fail when the tables differ from the migrations (a migration is missing)."""
    from alembic import command

    command.check(_alembic_config())


@db_app.command("revision")
def db_revision(message: str, module: str = typer.Option("core", help="Owning module.")) -> None:
    """Autogenerate a migration named for its module."""
    from alembic import command

    command.revision(_alembic_config(), message=f"{module}: {message}", autogenerate=True)


@users_app.command("create")
def users_create(
    username: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    city: str = typer.Option("", help="City slug for the role."),
    role: str = typer.Option("citizen", help="citizen, specialist, operator or city_admin."),
    full_name: str = typer.Option("", help="Full name."),
    platform_admin: bool = typer.Option(False, help="Administer every city."),
) -> None:
    """Create a user, optionally with a role in one city."""
    from qala.core import cities
    from qala.core.auth import service as auth
    from qala.core.db import Database
    from qala.core.errors import Problem

    database = Database.from_url(Settings().effective_database_url)
    with database.session() as db:
        try:
            user = auth.create_user(
                db, username, password, full_name=full_name, is_platform_admin=platform_admin
            )
            if city:
                auth.set_role(db, user, cities.get_city(db, city).id, role)
        except Problem as problem:
            typer.echo(f"Error: {problem.detail or problem.title}", err=True)
            raise typer.Exit(2) from None
        db.commit()
    typer.echo(f"Created user {username}.")


@users_app.command("set-role")
def users_set_role(username: str, city: str, role: str) -> None:
    """Give a user a role in a city (``none`` removes it)."""
    from sqlalchemy import select

    from qala.core import cities
    from qala.core.auth import service as auth
    from qala.core.auth.models import User
    from qala.core.db import Database

    database = Database.from_url(Settings().effective_database_url)
    with database.session() as db:
        user = db.scalar(select(User).where(User.username == username.lower()))
        if user is None:
            typer.echo(f"Error: no user {username}", err=True)
            raise typer.Exit(2)
        auth.set_role(db, user, cities.get_city(db, city).id, None if role == "none" else role)
        db.commit()
    typer.echo(f"{username} is now {role} in {city}.")


@modules_app.command("list")
def modules_list() -> None:
    """List installed modules and whether this deployment mounts them."""
    from qala.core.modules import enabled_modules, installed_modules

    mounted = {module.name for module in enabled_modules(Settings().modules)}
    for module in installed_modules():
        state = "mounted" if module.name in mounted else "off"
        typer.echo(f"{module.name:<16} {state:<8} {module.title}")


@dev_app.command("new-module")
def dev_new_module(
    name: str,
    root: Path = typer.Option(Path("."), help="Repository root."),
) -> None:
    """Scaffold a module with the five standard files, its test and its doc page."""
    from qala.core.scaffold import new_module

    try:
        created = new_module(root, name)
    except ValueError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(2) from None
    for path in created:
        typer.echo(f"created {path}")


def _add_module_commands() -> None:
    from qala.core.modules import installed_modules

    for module in installed_modules():
        commands = module.load("cli")
        if commands is not None:
            app.add_typer(commands, name=module.name)


def main() -> None:
    """Entry point of the ``qala`` console script."""
    _add_module_commands()
    app(args=sys.argv[1:], prog_name="qala")
