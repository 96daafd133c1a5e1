"""``qala demo``: seed the demo cities, their departments, demo users and every module's data."""

from __future__ import annotations

import typer

app = typer.Typer(help="Demo cities and data.", invoke_without_command=True, no_args_is_help=False)


@app.callback()
def demo(
    ctx: typer.Context,
    cities: str = typer.Option("", help="Comma-separated city slugs; empty seeds every city."),
) -> None:
    """Seed (or refresh) the demo cities, users and module data; safe to run again."""
    if ctx.invoked_subcommand is not None:
        return
    from qala.core.db import Database
    from qala.core.modules import enabled_modules
    from qala.demo import service
    from qala.settings import Settings

    settings = Settings()
    database = Database.from_url(settings.effective_database_url)
    only = tuple(slug.strip() for slug in cities.split(",") if slug.strip())
    with database.session() as db:
        seeded = service.seed_demo(db, enabled_modules(settings.modules), only)
        db.commit()
    names = ", ".join(city.slug for city in seeded)
    typer.echo(f"Seeded {len(seeded)} cities: {names}")
    typer.echo(f"Demo sign-ins: admin, operator, citizen ... password {service.DEMO_PASSWORD}")
