"""NGSI-LD (ETSI GS CIM 009): contexts, the entity model, queries, temporal, subscriptions."""
