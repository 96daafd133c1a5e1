"""How a notification travels: an HTTP POST (JSON with a Link header, or JSON-LD with its
@context) or an MQTT publish of ``{metadata, body}`` (NGSI-LD MQTT binding)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from qala.hub.ngsild.context import link_header
from qala.hub.ngsild.model import now_iso

JSON, JSON_LD = "application/json", "application/ld+json"


@dataclass(frozen=True)
class Claimed:
    """A notification taken for sending, with where and how to send it."""

    id: int
    subscription_pk: int
    payload: dict[str, Any]
    attempts: int
    endpoint: dict[str, Any]
    context: Any  # the @context of the notification (ld+json body)
    link: str  # the context URL of the Link header (json)


class DeliveryError(Exception):
    """The endpoint did not take the notification."""


def message_of(item: Claimed) -> tuple[dict[str, Any], dict[str, str]]:
    """The notification body and its headers (Content-Type, Link, receiverInfo)."""
    body = {**item.payload, "notifiedAt": now_iso()}
    headers = {entry["key"]: entry["value"] for entry in item.endpoint.get("receiverInfo", ())}
    if item.endpoint.get("accept") == JSON_LD:
        headers["Content-Type"] = JSON_LD
        body["@context"] = item.context
        body["data"] = [{**entity, "@context": item.context} for entity in body["data"]]
    else:
        headers["Content-Type"] = JSON
        headers["Link"] = link_header(item.link)
    return body, headers


def send(item: Claimed, client: httpx.Client, default_timeout: float) -> str | None:
    """Send one notification; None when the endpoint took it, else what went wrong."""
    body, headers = message_of(item)
    uri = item.endpoint["uri"]
    timeout = float(item.endpoint.get("timeout", default_timeout))
    try:
        if uri.lower().startswith(("mqtt://", "mqtts://")):
            publish_mqtt(
                uri,
                {"metadata": headers, "body": body},
                item.endpoint.get("notifierInfo", ()),
                timeout,
            )
            return None
        response = client.post(uri, content=json.dumps(body), headers=headers, timeout=timeout)
    except (httpx.HTTPError, OSError, DeliveryError, ValueError) as error:
        return f"{type(error).__name__}: {error}"[:1000]
    if response.is_success:
        return None
    return f"HTTP {response.status_code}: {response.text[:200]}"


def publish_mqtt(uri: str, message: dict[str, Any], notifier_info: Any, timeout: float) -> None:
    """Publish to ``mqtt[s]://[user[:password]@]host[:port]/topic`` (QoS 1 unless told)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    parts = urlsplit(uri)
    info = {entry["key"]: entry["value"] for entry in notifier_info}
    qos = int(info.get("MQTT-QoS", "1"))
    if qos not in (0, 1, 2) or not parts.hostname or not parts.path.strip("/"):
        raise DeliveryError(f"cannot publish to {uri} with QoS {qos}")
    version = mqtt.MQTTv5 if info.get("MQTT-Version", "").endswith("5.0") else mqtt.MQTTv311
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=version)
    client.connect_timeout = timeout
    if parts.username:
        client.username_pw_set(
            unquote(parts.username), unquote(parts.password) if parts.password else None
        )
    secure = parts.scheme.lower() == "mqtts"
    if secure:
        client.tls_set()
    client.connect(parts.hostname, parts.port or (8883 if secure else 1883), keepalive=30)
    client.loop_start()
    try:
        published = client.publish(parts.path.lstrip("/"), json.dumps(message), qos=qos)
        published.wait_for_publish(timeout)
        if not published.is_published():
            raise DeliveryError(f"the broker did not acknowledge within {timeout} s")
    finally:
        client.disconnect()
        client.loop_stop()
