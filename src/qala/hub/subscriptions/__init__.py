"""NGSI-LD subscriptions: their API, matching entity changes, and delivering notifications."""
