"""PostgreSQL statements of the history write path.

``PG_UPSERT`` writes a batch of history rows in one round trip: ``{source}`` yields the rows
(a ``jsonb_to_recordset`` or the staging table filled by COPY); data-modifying CTEs run exactly
once, so the hourly deltas it records in ``hub_temporal_pending`` are exactly the rows that
``ON CONFLICT DO NOTHING`` let in (a duplicate never counts twice).

``DRAIN`` moves pending deltas into the hourly and daily roll-ups and deletes them in one
statement (so in one transaction: exactly once). Many batches are drained together, so a
series that got a point every second costs one roll-up update per drain, not one per point."""

from __future__ import annotations

from qala.hub.temporal.models import KIND_DELETED, KIND_TIME_MASK, VALUES_TABLE

STAGING_TABLE = "qala_temporal_staging"
COPY_COLUMNS = (
    "series_id",
    "city_id",
    "observed_at",
    "kind",
    "value",
    "data",
    "created_at",
    "modified_at",
)
#: PostgreSQL types of COPY_COLUMNS, for binary COPY.
COPY_TYPES = (
    "int4",
    "int4",
    "timestamptz",
    "int2",
    "float8",
    "jsonb",
    "timestamptz",
    "timestamptz",
)
_DELTAS = (
    "series_ids, buckets, counts, numeric_counts, totals, total_squares, minimums, maximums, "
    "first_ats, last_ats"
)
_COLUMNS = ", ".join(COPY_COLUMNS)

#: Literal braces are doubled: the text is a ``str.format`` template for ``source``.
PG_UPSERT = f"""  -- one batch of history rows, and its hourly deltas for the roll-ups
WITH src AS ({{source}}),
ins AS (
  INSERT INTO {VALUES_TABLE} ({_COLUMNS})
  SELECT {_COLUMNS} FROM src
  ON CONFLICT DO NOTHING
  RETURNING series_id, city_id, observed_at, kind, value
),
hours AS (
  SELECT city_id, series_id,
      date_trunc('hour', observed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b,
      count(*) AS c, count(value) AS nc, coalesce(sum(value), 0) AS t,
      coalesce(sum(value * value), 0) AS tq, min(value) AS mn, max(value) AS mx,
      min(observed_at) AS fa, max(observed_at) AS la
  FROM ins WHERE kind & {KIND_TIME_MASK} <> {KIND_DELETED}
  GROUP BY 1, 2, 3
),
pending AS (
  INSERT INTO hub_temporal_pending (city_id, {_DELTAS})
  SELECT city_id, array_agg(series_id), array_agg(b), array_agg(c), array_agg(nc),
      array_agg(t), array_agg(tq), array_agg(mn), array_agg(mx), array_agg(fa), array_agg(la)
  FROM hours GROUP BY city_id
  RETURNING 1
)
SELECT count(*) FROM ins"""  # noqa: S608 - constant identifiers only


def _rollup(table: str, grain: str) -> str:
    # Rows are upserted in key order, so two drains never lock roll-up rows in opposite orders.
    return f"""
{table} AS (
  INSERT INTO hub_temporal_{table} AS r (series_id, city_id, bucket, count, numeric_count,
      total, total_squares, minimum, maximum, first_at, last_at)
  SELECT s, city_id, date_trunc('{grain}', b AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
      sum(c), sum(nc), sum(t), sum(tq), min(mn), max(mx), min(fa), max(la)
  FROM deltas GROUP BY 1, 2, 3 ORDER BY 1, 3
  ON CONFLICT (series_id, bucket) DO UPDATE SET
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


#: Drain up to ``:limit`` pending batches (oldest first) into both roll-ups.
DRAIN = (
    f"""  -- pending roll-up deltas into the hourly and daily roll-ups
WITH taken AS (
  DELETE FROM hub_temporal_pending WHERE id IN (
    SELECT id FROM hub_temporal_pending ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
  )
  RETURNING city_id, {_DELTAS}
),
deltas AS (
  SELECT taken.city_id, u.*
  FROM taken, unnest({_DELTAS}) AS u(s, b, c, nc, t, tq, mn, mx, fa, la)
),"""  # noqa: S608 - constant identifiers only
    + _rollup("hourly", "hour")
    + ","
    + _rollup("daily", "day")
    + """
SELECT count(*) FROM taken"""
)
