"""Kernel API routes about people: sign-in tokens, the caller, users and roles, API keys,
and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from qala.core import cities
from qala.core.auth import service as auth
from qala.core.auth.models import User
from qala.core.deps import (
    AdminCity,
    CurrentUser,
    DbSession,
    forget_principals,
    get_runtime,
)
from qala.core.errors import InvalidField, Unauthorized
from qala.core.i18n import _
from qala.core.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    AuditRead,
    MeRead,
    MeUpdate,
    RoleUpdate,
    TokenCreate,
    TokenRead,
    UserCreate,
    UserDetail,
    UserRead,
)

router = APIRouter(prefix="/api")


@router.post("/auth/token", status_code=201, tags=["auth"])
def post_token(body: TokenCreate, request: Request, db: DbSession) -> TokenRead:
    """Exchange a username and password for a bearer token."""
    try:
        user = auth.authenticate(db, body.username, body.password, ip=_ip(request))
    except auth.BadCredentials:
        db.commit()  # keep the audited failure: it is what throttles password guessing
        raise
    max_age = get_runtime(request).settings.token_max_age
    raw, token = auth.issue_token(db, user, kind="bearer", max_age=max_age, name=body.name)
    return TokenRead(access_token=raw, expires_at=token.expires_at)


@router.post("/auth/revoke", status_code=204, tags=["auth"])
def revoke_token(request: Request, db: DbSession, principal: CurrentUser) -> Response:
    """Revoke the bearer token used for this request."""
    scheme, _sep, raw = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or raw.startswith("qk_"):
        raise Unauthorized(str(_("Send the token to revoke as a bearer token.")))
    auth.revoke_token(db, raw.strip())
    forget_principals(request)
    return Response(status_code=204)


@router.get("/auth/me", tags=["auth"])
def get_me(db: DbSession, principal: CurrentUser) -> MeRead:
    """The signed-in user and their roles."""
    return MeRead.model_validate(_user_of(db, principal))


@router.patch("/auth/me", tags=["auth"])
def patch_me(body: MeUpdate, request: Request, db: DbSession, principal: CurrentUser) -> MeRead:
    """Change the caller's name or interface language."""
    forget_principals(request)
    user = _user_of(db, principal)
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(user, key, value if value is not None or key == "language" else getattr(user, key))
    return MeRead.model_validate(user)


def _user_of(db: DbSession, principal: auth.Principal) -> User:
    user = db.get(User, principal.user_id) if principal.user_id else None
    if user is None:
        raise Unauthorized(str(_("Sign in as a user, not with an API key.")))
    return user


@router.get("/users", tags=["users"])
def list_users(db: DbSession, city: AdminCity) -> list[UserRead]:
    """The users who hold a role in the city."""
    return [
        UserRead(
            id=user.id,
            username=user.username,
            full_name=user.full_name,
            role=membership.role,
            department_id=membership.department_id,
        )
        for user, membership in auth.list_city_users(db, city.id)
    ]


@router.post("/users", status_code=201, tags=["users"])
def post_user(body: UserCreate, db: DbSession, city: AdminCity, actor: CurrentUser) -> UserRead:
    """Create a user with a role in the city."""
    _check_department(db, city.id, body.department_id)
    user = auth.create_user(
        db,
        body.username,
        body.password,
        full_name=body.full_name,
        email=body.email,
        phone=body.phone,
    )
    auth.set_role(
        db, user, city.id, body.role, department_id=body.department_id, actor_id=actor.user_id
    )
    return UserRead(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        role=body.role,
        department_id=body.department_id,
    )


@router.put("/users/{user_id}/role", tags=["users"])
def put_user_role(
    user_id: int,
    body: RoleUpdate,
    request: Request,
    db: DbSession,
    city: AdminCity,
    actor: CurrentUser,
) -> UserRead:
    """Change (or remove, with null) a user's role in the city."""
    forget_principals(request)
    _check_department(db, city.id, body.department_id)
    user = auth.get_city_user(db, city.id, user_id)
    auth.set_role(
        db, user, city.id, body.role, department_id=body.department_id, actor_id=actor.user_id
    )
    return UserRead(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        role=body.role or "",
        department_id=body.department_id,
    )


def _check_department(db: DbSession, city_id: int, department_id: int | None) -> None:
    if department_id is None:
        return
    if department_id not in {d.id for d in cities.list_departments(db, city_id)}:
        raise InvalidField(
            str(_("No such department in this city.")), errors=[{"field": "department_id"}]
        )


@router.get("/api-keys", tags=["api-keys"])
def list_api_keys(db: DbSession, city: AdminCity) -> list[ApiKeyRead]:
    """The city's API keys for devices and integrations (never the keys themselves)."""
    return [ApiKeyRead.model_validate(key) for key in auth.list_api_keys(db, city.id)]


@router.post("/api-keys", status_code=201, tags=["api-keys"])
def post_api_key(
    body: ApiKeyCreate, db: DbSession, city: AdminCity, actor: CurrentUser
) -> ApiKeyCreated:
    """Create a key; its value is shown once, in this response."""
    raw, key = auth.create_api_key(
        db, city.id, body.name, scopes=body.scopes, actor_id=actor.user_id
    )
    return ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(key).model_dump(), "key": raw})


@router.delete("/api-keys/{key_id}", tags=["api-keys"])
def delete_api_key(
    key_id: int, request: Request, db: DbSession, city: AdminCity, actor: CurrentUser
) -> ApiKeyRead:
    """Revoke a key."""
    forget_principals(request)
    return ApiKeyRead.model_validate(
        auth.revoke_api_key(db, city.id, key_id, actor_id=actor.user_id)
    )


@router.get("/audit", tags=["audit"])
def list_audit(
    db: DbSession, city: AdminCity, limit: int = Query(100, ge=1, le=1000)
) -> list[AuditRead]:
    """The city's audit log, newest first."""
    return [AuditRead.model_validate(entry) for entry in auth.list_audit(db, city.id, limit)]


@router.get("/users/{user_id}", tags=["users"])
def get_user(
    user_id: int, request: Request, db: DbSession, city: AdminCity, actor: CurrentUser
) -> UserDetail:
    """A user's contact details: personal data, so every read is written to the audit log."""
    user = auth.get_city_user(db, city.id, user_id)
    membership = next(m for m in user.memberships if m.city_id == city.id)
    auth.audit(
        db,
        "personal_data_read",
        user_id=actor.user_id,
        city_id=city.id,
        target=user.username,
        ip=_ip(request),
        fields=["full_name", "email", "phone"],
    )
    return UserDetail(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        role=membership.role,
        department_id=membership.department_id,
        email=user.email,
        phone=user.phone,
    )


def _ip(request: Request) -> str:
    return request.client.host if request.client else ""
