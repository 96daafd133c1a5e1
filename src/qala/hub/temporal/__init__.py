"""The hub's temporal store: the history of every attribute instance (narrow rows, partitioned
by time on PostgreSQL), hourly and daily roll-ups, and the NGSI-LD temporal API."""
