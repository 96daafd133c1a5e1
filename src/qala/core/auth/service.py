"""Sign-in, tokens, API keys, roles and the audit log: domain logic, no HTTP, no commit."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qala.core.auth.models import ROLES, ApiKey, AuditEntry, Membership, Token, User
from qala.core.db import utcnow
from qala.core.errors import Conflict, Forbidden, InvalidField, NotFound, TooManyRequests
from qala.core.i18n import _

_hasher = PasswordHasher()
FAILED_SIGN_IN_LIMIT = 10
FAILED_SIGN_IN_WINDOW = dt.timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (with a role per city) or an API key (bound to one city)."""

    user_id: int | None = None
    username: str = ""
    is_platform_admin: bool = False
    roles: dict[int, str] = field(default_factory=dict)
    departments: dict[int, int | None] = field(default_factory=dict)
    language: str | None = None
    api_key_id: int | None = None
    scopes: tuple[str, ...] = ()

    @property
    def authenticated(self) -> bool:
        """True for a signed-in user or a valid API key."""
        return self.user_id is not None or self.api_key_id is not None

    def role_in(self, city_id: int) -> str | None:
        """The caller's role in a city (platform admins are city admins everywhere)."""
        if self.is_platform_admin:
            return "city_admin"
        return self.roles.get(city_id)

    def has_role(self, city_id: int, role: str) -> bool:
        """True when the caller's role in ``city_id`` is ``role`` or stronger."""
        held = self.role_in(city_id)
        return held is not None and ROLES.index(held) >= ROLES.index(role)

    @classmethod
    def of_user(cls, user: User) -> Principal:
        """The principal of a signed-in user."""
        return cls(
            user_id=user.id,
            username=user.username,
            is_platform_admin=user.is_platform_admin,
            roles={m.city_id: m.role for m in user.memberships},
            departments={m.city_id: m.department_id for m in user.memberships},
            language=user.language,
        )

    @classmethod
    def of_api_key(cls, key: ApiKey) -> Principal:
        """The principal of a device or integration key: an operator-level role in one city."""
        return cls(
            username=f"apikey:{key.prefix}",
            roles={key.city_id: "operator"},
            api_key_id=key.id,
            scopes=tuple(key.scopes),
        )


ANONYMOUS = Principal()


def hash_secret(raw: str) -> str:
    """SHA-256 of a high-entropy token (passwords use Argon2 instead)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    """Check ``password``; upgrades the stored hash when Argon2 parameters changed."""
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def audit(
    db: Session,
    action: str,
    *,
    user_id: int | None = None,
    city_id: int | None = None,
    target: str = "",
    ip: str = "",
    **details: Any,
) -> None:
    """Write one audit entry (in the caller's transaction)."""
    db.add(
        AuditEntry(
            action=action, user_id=user_id, city_id=city_id, target=target, ip=ip, details=details
        )
    )


def create_user(
    db: Session,
    username: str,
    password: str,
    *,
    full_name: str = "",
    email: str = "",
    phone: str = "",
    is_platform_admin: bool = False,
    language: str | None = None,
) -> User:
    """Register a user; usernames are case-insensitive and unique."""
    username = username.strip().lower()
    if not username:
        raise InvalidField(str(_("A username is required.")), errors=[{"field": "username"}])
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidField(
            str(_("The password must have at least {n} characters.", n=MIN_PASSWORD_LENGTH)),
            errors=[{"field": "password"}],
        )
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserExists(str(_("The username is taken.")))
    user = User(
        username=username,
        password_hash=hash_password(password),
        full_name=full_name,
        email=email,
        phone=phone,
        is_platform_admin=is_platform_admin,
        language=language,
    )
    db.add(user)
    db.flush()
    audit(db, "user_created", user_id=user.id, target=username)
    return user


def set_role(
    db: Session,
    user: User,
    city_id: int,
    role: str | None,
    *,
    department_id: int | None = None,
    actor_id: int | None = None,
) -> Membership | None:
    """Give ``user`` a role in a city (None removes it); audited."""
    if role is not None and role not in ROLES:
        raise InvalidField(str(_("Unknown role.")), errors=[{"field": "role"}])
    membership = db.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.city_id == city_id)
    )
    before = membership.role if membership else None
    if role is None:
        if membership is not None:
            db.delete(membership)
            user.memberships.remove(membership)
        membership = None
    elif membership is None:
        membership = Membership(
            user_id=user.id, city_id=city_id, role=role, department_id=department_id
        )
        db.add(membership)
        user.memberships.append(membership)
    else:
        membership.role, membership.department_id = role, department_id
    audit(
        db,
        "role_changed",
        user_id=actor_id,
        city_id=city_id,
        target=user.username,
        before=before,
        after=role,
    )
    return membership


def authenticate(db: Session, username: str, password: str, *, ip: str = "") -> User:
    """The user with these credentials; failures are audited and throttled."""
    username = username.strip().lower()
    since = utcnow() - FAILED_SIGN_IN_WINDOW
    failures = db.scalar(
        select(func.count(AuditEntry.id)).where(
            AuditEntry.action == "sign_in_failed",
            AuditEntry.target == username,
            AuditEntry.created_at >= since,
        )
    )
    if (failures or 0) >= FAILED_SIGN_IN_LIMIT:
        raise TooManyRequests(str(_("Too many failed sign-ins. Try again in 15 minutes.")))
    user = db.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active or not verify_password(user, password):
        audit(db, "sign_in_failed", target=username, ip=ip)
        raise BadCredentials(str(_("Wrong username or password.")))
    user.last_sign_in_at = utcnow()
    audit(db, "sign_in", user_id=user.id, target=username, ip=ip)
    return user


def issue_token(
    db: Session, user: User, *, kind: str, max_age: int, name: str = ""
) -> tuple[str, Token]:
    """A new session or bearer token for ``user``; the raw value is returned once."""
    raw = secrets.token_urlsafe(32)
    token = Token(
        kind=kind,
        token_hash=hash_secret(raw),
        user_id=user.id,
        name=name,
        expires_at=utcnow() + dt.timedelta(seconds=max_age),
    )
    db.add(token)
    return raw, token


def user_for_token(db: Session, raw: str, kind: str) -> User | None:
    """The user a live token belongs to, or None."""
    token = db.scalar(select(Token).where(Token.token_hash == hash_secret(raw), Token.kind == kind))
    if token is None or token.revoked_at is not None or token.expires_at <= utcnow():
        return None
    user = db.get(User, token.user_id)
    return user if user is not None and user.is_active else None


def revoke_token(db: Session, raw: str) -> None:
    """End a session or revoke a bearer token."""
    token = db.scalar(select(Token).where(Token.token_hash == hash_secret(raw)))
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()
        audit(db, "sign_out", user_id=token.user_id, target=token.kind)


def csrf_token(secret_key: str, session_raw: str) -> str:
    """The CSRF token bound to a sign-in session (double-submit, derived, not stored)."""
    return hmac.new(secret_key.encode(), f"csrf:{session_raw}".encode(), "sha256").hexdigest()


def create_api_key(
    db: Session, city_id: int, name: str, *, scopes: list[str], actor_id: int | None
) -> tuple[str, ApiKey]:
    """A new key for a device or integration of one city; the raw key is returned once."""
    if not name.strip():
        raise InvalidField(str(_("A name is required.")), errors=[{"field": "name"}])
    raw = "qk_" + secrets.token_urlsafe(32)
    key = ApiKey(
        city_id=city_id,
        name=name.strip(),
        prefix=raw[:10],
        key_hash=hash_secret(raw),
        scopes=scopes,
        created_by=actor_id,
    )
    db.add(key)
    db.flush()
    audit(db, "api_key_created", user_id=actor_id, city_id=city_id, target=key.prefix)
    return raw, key


def api_key_for(db: Session, raw: str) -> ApiKey | None:
    """The live API key with this raw value, or None."""
    key = db.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(raw)))
    if key is None or key.revoked_at is not None:
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > dt.timedelta(minutes=5):
        key.last_used_at = now
    return key


def list_api_keys(db: Session, city_id: int) -> list[ApiKey]:
    """The API keys of a city, newest first."""
    query = select(ApiKey).where(ApiKey.city_id == city_id).order_by(ApiKey.id.desc())
    return list(db.scalars(query))


def revoke_api_key(db: Session, city_id: int, key_id: int, *, actor_id: int | None) -> ApiKey:
    """Revoke a key of the city; further requests with it are refused."""
    key = db.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.city_id == city_id))
    if key is None:
        raise ApiKeyNotFound(str(_("No such API key.")))
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit(db, "api_key_revoked", user_id=actor_id, city_id=city_id, target=key.prefix)
    return key


def list_city_users(db: Session, city_id: int) -> list[tuple[User, Membership]]:
    """The users who hold a role in a city."""
    query = (
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.city_id == city_id)
        .order_by(User.username)
    )
    return [(row[0], row[1]) for row in db.execute(query)]


def get_city_user(db: Session, city_id: int, user_id: int) -> User:
    """A user who holds a role in the city (others are invisible from it)."""
    user = db.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == user_id, Membership.city_id == city_id)
    )
    if user is None:
        raise UserNotFound(str(_("No such user in this city.")))
    return user


def list_audit(db: Session, city_id: int, limit: int = 100) -> list[AuditEntry]:
    """The newest audit entries of a city."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.city_id == city_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    return list(db.scalars(query))


class UserExists(Conflict):
    """The username is taken."""


class BadCredentials(Forbidden):
    """Wrong username or password."""

    status = 401
    slug = "bad-credentials"
    title = _("Wrong username or password")


class ApiKeyNotFound(NotFound):
    """No such API key in the caller's city."""


class UserNotFound(NotFound):
    """No such user in the caller's city."""
