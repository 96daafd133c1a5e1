"""The PostgreSQL statement that writes a batch of history rows and rolls up the new ones in
one round trip. ``{source}`` yields the rows (a ``jsonb_to_recordset`` or the staging table
filled by COPY); data-modifying CTEs run exactly once, so both roll-ups see exactly the rows
that ``ON CONFLICT DO NOTHING`` let in."""

from __future__ import annotations

from qala.hub.temporal.models import KIND_DELETED, KIND_TIME_MASK

STAGING_TABLE = "qala_temporal_staging"
COPY_COLUMNS = (
    "city_id",
    "entity_id",
    "attribute",
    "dataset_id",
    "observed_at",
    "kind",
    "value",
    "data",
    "created_at",
    "modified_at",
)
_KEY = "city_id, entity_id, attribute, dataset_id"


def _rollup(table: str, grain: str) -> str:
    return f"""
{table} AS (
  INSERT INTO hub_temporal_{table} AS r ({_KEY}, bucket, count, numeric_count, total,
      total_squares, minimum, maximum, first_at, last_at)
  SELECT {_KEY}, date_trunc('{grain}', observed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
      count(*), count(value), coalesce(sum(value), 0), coalesce(sum(value * value), 0),
      min(value), max(value), min(observed_at), max(observed_at)
  FROM kept GROUP BY 1, 2, 3, 4, 5
  ON CONFLICT ({_KEY}, bucket) DO UPDATE SET
    count = r.count + excluded.count,
    numeric_count = r.numeric_count + excluded.numeric_count,
    total = r.total + excluded.total,
    total_squares = r.total_squares + excluded.total_squares,
    minimum = LEAST(r.minimum, excluded.minimum),
    maximum = GREATEST(r.maximum, excluded.maximum),
    first_at = LEAST(r.first_at, excluded.first_at),
    last_at = GREATEST(r.last_at, excluded.last_at)
  RETURNING 1
)"""  # noqa: S608 - constant identifiers only


_COLUMNS = ", ".join(COPY_COLUMNS)
#: Literal braces are doubled: the text is a ``str.format`` template for ``source``.
PG_UPSERT = (
    f"""  -- one batch of history rows and its roll-ups
WITH src AS ({{source}}),
ins AS (
  INSERT INTO hub_temporal_values ({_COLUMNS})
  SELECT {_COLUMNS} FROM src
  ON CONFLICT DO NOTHING
  RETURNING {_KEY}, observed_at, kind, value
),
kept AS (SELECT * FROM ins WHERE kind & {KIND_TIME_MASK} <> {KIND_DELETED}),"""  # noqa: S608
    + _rollup("hourly", "hour")
    + ","
    + _rollup("daily", "day")
    + """
SELECT count(*) FROM ins"""
)
