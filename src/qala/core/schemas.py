"""API shapes of the kernel: cities, auth, users, API keys, alerts, audit."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RoleName = Literal["citizen", "specialist", "operator", "city_admin"]


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Read(BaseModel):
    """Response shapes read attributes of ORM rows."""

    model_config = ConfigDict(from_attributes=True)


class CityRead(Read):
    slug: str
    name_ru: str
    name_kk: str
    name_en: str
    region_ru: str
    region_kk: str
    region_en: str
    population: int
    centre: tuple[float, float]
    bounds: list[float]
    timezone: str
    default_language: str


class DepartmentRead(Read):
    id: int
    slug: str
    name_ru: str
    name_kk: str
    name_en: str
    parent_id: int | None


class TokenCreate(Strict):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=500)
    name: str = Field(default="", max_length=200)


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth 2 token type
    expires_at: dt.datetime


class MembershipRead(Read):
    city_id: int
    role: str
    department_id: int | None


class MeRead(Read):
    id: int
    username: str
    full_name: str
    language: str | None
    is_platform_admin: bool
    memberships: list[MembershipRead]


class MeUpdate(Strict):
    full_name: str | None = Field(default=None, max_length=300)
    language: Literal["ru", "kk", "en"] | None = None


class UserCreate(Strict):
    username: str = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=500)
    full_name: str = Field(default="", max_length=300)
    email: str = Field(default="", max_length=300)
    phone: str = Field(default="", max_length=50)
    role: RoleName
    department_id: int | None = None


class RoleUpdate(Strict):
    role: RoleName | None
    department_id: int | None = None


class UserRead(BaseModel):
    id: int
    username: str
    full_name: str
    role: str
    department_id: int | None


class UserDetail(UserRead):
    email: str
    phone: str


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(default_factory=list, max_length=20)


class ApiKeyRead(Read):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str


class AlertRead(BaseModel):
    id: int
    severity: str
    text: str
    link: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None


class AuditRead(Read):
    id: int
    user_id: int | None
    action: str
    target: str
    details: dict[str, Any]
    ip: str
    created_at: dt.datetime


class ModuleSwitch(Strict):
    enabled: bool


class ModuleRead(BaseModel):
    name: str
    title: str
    enabled: bool
