"""Device profiles by (apikey, device_id) for the measurement path: cached per process,
checked against each group's revision once per batch, and autoprovisioning devices a group
does not know yet. The caller owns the transaction."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from qala.core.db import utcnow
from qala.hub.ingest.measure import DeviceProfile
from qala.hub.ingest.models import HubIotDevice, HubIotGroup
from qala.hub.ingest.profiles import compile_profile
from qala.hub.ngsild.context import ContextCache

Key = tuple[str, str]  # (apikey, device_id)
UNKNOWN_APIKEY = "unknown_apikey"
UNKNOWN_DEVICE = "unknown_device"
IN_CHUNK = 500


@dataclass(frozen=True)
class Rejection:
    """Why a device's measurements cannot be taken."""

    reason: str  # unknown_apikey | unknown_device
    detail: str


@dataclass
class _Group:
    """A cached group: its document, the revision it was read at, its devices' profiles."""

    pk: int
    city_id: int
    revision: int  # the group's revision when cached
    document: dict[str, Any]
    profiles: dict[str, DeviceProfile] = field(default_factory=dict)


def group_document(row: HubIotGroup) -> dict[str, Any]:
    """The FIWARE document of a group row (config merged with its columns)."""
    return {
        **row.config,
        "apikey": row.apikey,
        "resource": row.resource,
        "entity_type": row.entity_type,
        "service_path": row.service_path,
    }


class DeviceRegistry:
    """Where the measurement path finds device profiles; one per process."""

    def __init__(self, expand: Callable[[str], str] | None = None) -> None:
        self.expand = expand or ContextCache().term_map(None).expand
        self._groups: dict[str, _Group] = {}
        self._lock = threading.Lock()
        #: Each device's arrival clock, kept across profile reloads so two measures without
        #: a time of their own never get the same instant (which would merge them in history).
        self._clocks: dict[Key, list[int]] = {}

    def resolve(self, db: Session, keys: Iterable[Key]) -> dict[Key, DeviceProfile | Rejection]:
        """The profile of every (apikey, device_id), autoprovisioning unknown devices of
        groups that allow it (in the caller's transaction)."""
        wanted = set(keys)
        groups = self._fresh_groups(db, {apikey for apikey, _ in wanted})
        found: dict[Key, DeviceProfile | Rejection] = {}
        missing: dict[str, list[str]] = {}
        for apikey, device_id in wanted:
            group = groups.get(apikey)
            if group is None:
                found[apikey, device_id] = Rejection(
                    UNKNOWN_APIKEY, f"no device group has apikey {apikey!r}"
                )
            elif (profile := group.profiles.get(device_id)) is not None:
                found[apikey, device_id] = profile
            else:
                missing.setdefault(apikey, []).append(device_id)
        for apikey, device_ids in missing.items():
            found.update(self._load_devices(db, groups[apikey], apikey, device_ids))
        return found

    def forget(self) -> None:
        """Drop every cached profile (after provisioning changes in this process)."""
        with self._lock:
            self._groups.clear()

    def _fresh_groups(self, db: Session, apikeys: set[str]) -> dict[str, _Group]:
        current: dict[str, tuple[int, int]] = {}
        for chunk in _chunks(sorted(apikeys)):
            rows = db.execute(
                select(HubIotGroup.apikey, HubIotGroup.id, HubIotGroup.revision).where(
                    HubIotGroup.apikey.in_(chunk)
                )
            )
            current.update({apikey: (pk, revision) for apikey, pk, revision in rows})
        groups: dict[str, _Group] = {}
        for apikey, (pk, revision) in current.items():
            cached = self._groups.get(apikey)
            if cached is None or cached.pk != pk or cached.revision != revision:
                row = db.get(HubIotGroup, pk)
                if row is None:
                    continue
                cached = _Group(pk, row.city_id, revision, group_document(row))
                with self._lock:
                    self._groups[apikey] = cached
            groups[apikey] = cached
        return groups

    def _load_devices(
        self, db: Session, group: _Group, apikey: str, device_ids: list[str]
    ) -> Mapping[Key, DeviceProfile | Rejection]:
        rows: dict[str, HubIotDevice] = {}
        for chunk in _chunks(sorted(set(device_ids))):
            query = select(HubIotDevice).where(
                HubIotDevice.apikey == apikey, HubIotDevice.device_id.in_(chunk)
            )
            rows.update({row.device_id: row for row in db.scalars(query)})
        found: dict[Key, DeviceProfile | Rejection] = {}
        new: list[DeviceProfile] = []
        for device_id in device_ids:
            row = rows.get(device_id)
            if row is None and not group.document.get("autoprovision", True):
                found[apikey, device_id] = Rejection(
                    UNKNOWN_DEVICE, f"device {device_id!r} is not provisioned in this group"
                )
                continue
            document = device_document(row) if row is not None else None
            profile = compile_profile(
                group.city_id,
                group.document,
                document,
                device_id,
                self.expand,
                clock=self._clocks.setdefault((apikey, device_id), [0]),
            )
            found[apikey, device_id] = profile
            if row is None:
                new.append(profile)  # cached once its row is committed and read back
            else:
                group.profiles[device_id] = profile
        if new:
            autoprovision(db, group.document, new)
        return found


def device_document(row: HubIotDevice) -> dict[str, Any]:
    """The FIWARE document of a device row (config merged with its columns)."""
    return {
        **row.config,
        "device_id": row.device_id,
        "apikey": row.apikey,
        "entity_name": row.entity_id,
        "entity_type": row.entity_type,
        "service_path": row.service_path,
    }


def autoprovision(db: Session, group: Mapping[str, Any], profiles: list[DeviceProfile]) -> None:
    """Register devices first heard of in a measurement (a concurrent writer may win)."""
    now = utcnow()
    rows = [
        {
            "city_id": p.city_id,
            "device_id": p.device_id,
            "apikey": p.apikey,
            "service_path": group.get("service_path", "/"),
            "entity_id": p.entity_id,
            "entity_type": group["entity_type"],
            "config": {},
            "autoprovisioned": True,
            "created_at": now,
            "modified_at": now,
        }
        for p in profiles
    ]
    dialect = db.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(HubIotDevice).on_conflict_do_nothing(index_elements=["apikey", "device_id"])
    db.execute(statement, rows)


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]
