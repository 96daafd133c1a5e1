"""The hub's commands (``qala hub ...``): background processes of the city data hub."""

from __future__ import annotations

import typer

app = typer.Typer(help="City data hub.", no_args_is_help=True)


@app.command("notify")
def notify() -> None:
    """Deliver NGSI-LD subscription notifications (HTTP and MQTT) until stopped."""
    import logging

    from qala.core.db import Database
    from qala.hub.subscriptions.notify import DeliveryWorker, policy_of
    from qala.settings import Settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings()
    worker = DeliveryWorker(Database.from_url(settings.effective_database_url), policy_of(settings))
    typer.echo("Delivering notifications; Ctrl-C stops.")
    try:
        worker.run()
    except KeyboardInterrupt:
        typer.echo("Stopped.")


@app.command("ingest")
def ingest(
    client_id: str = typer.Option("qala-ingest", help="MQTT client id (keeps the session)."),
    shared_group: str = typer.Option("", help="Share the topics with other consumers."),
    batch_size: int = typer.Option(2000, min=1, help="Messages per commit at most."),
    batch_wait: float = typer.Option(0.05, min=0.0, help="Seconds to fill a batch."),
    queue_size: int = typer.Option(10_000, min=1, help="Messages held in memory at most."),
    metrics_port: int = typer.Option(0, help="Serve Prometheus metrics on this port (0: no)."),
) -> None:
    """Consume IoT measurements from the MQTT broker (QALA_MQTT_URL) into the hub."""
    import logging
    import signal

    from qala.core.runtime import tune_gc
    from qala.hub.ingest.mqtt import (
        ConsumerSettings,
        IngestConsumer,
        ingest_database,
    )
    from qala.hub.runtime import default_hub
    from qala.hub.temporal.pending import RollupWorker
    from qala.settings import Settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings()
    if not settings.mqtt_url:
        typer.echo(
            "Set QALA_MQTT_URL (e.g. mqtt://127.0.0.1:1883) to consume from a broker.", err=True
        )
        raise typer.Exit(2)
    database = ingest_database(settings.effective_database_url)
    consumer = IngestConsumer(
        database,
        ConsumerSettings(
            url=settings.mqtt_url,
            client_id=client_id,
            shared_group=shared_group,
            batch_size=batch_size,
            batch_wait=batch_wait,
            queue_size=queue_size,
        ),
        hub=default_hub(),
    )
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1", registry=consumer.metrics.registry)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: consumer.stop())
    typer.echo(f"Consuming measurements from {settings.mqtt_url}; SIGTERM stops.")
    tune_gc()
    rollups = RollupWorker(database)
    rollups.start()
    try:
        consumer.run()
    finally:
        rollups.stop()


@app.command("settle")
def settle_rollups() -> None:
    """Add every pending history batch to the hourly and daily roll-ups now."""
    from qala.core.db import Database
    from qala.hub.temporal.pending import settle
    from qala.settings import Settings

    database = Database.from_url(Settings().effective_database_url)
    with database.session() as db:
        drained = settle(db)
        db.commit()
    typer.echo(f"Added {drained} pending batches to the roll-ups.")


@app.command("prune")
def prune(
    days: int = typer.Option(
        -1, help="Keep this many days of history (default: QALA_HUB_RETENTION_DAYS; 0 = all)."
    ),
) -> None:
    """Drop attribute history older than the retention (roll-ups are kept)."""
    from qala.core.db import Database
    from qala.hub.temporal.retention import prune_history
    from qala.settings import Settings

    settings = Settings()
    retention = settings.hub_retention_days if days < 0 else days
    database = Database.from_url(settings.effective_database_url)
    with database.session() as db:
        report = prune_history(db, retention)
        db.commit()
    if report.cutoff is None:
        typer.echo("Retention is 0: all history is kept.")
    else:
        typer.echo(
            f"Removed history observed before {report.cutoff.isoformat()}: "
            f"{len(report.dropped_partitions)} partitions dropped, "
            f"{report.deleted_rows} rows deleted."
        )
    if report.created_partitions:
        typer.echo(f"Made partitions ahead: {', '.join(report.created_partitions)}.")
