"""Users, API keys, passwords and signed session cookies.

API keys are random (``secrets.token_urlsafe``), shown once, stored only as
SHA-256 with a short visible prefix. Passwords are hashed with scrypt and a
random salt. Web sessions are cookies signed with itsdangerous; the secret
comes from ``$CHURNGUARD_SESSION_SECRET`` or a per-workspace file made with
0600 permissions. Nothing here logs a key, a password or a secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..errors import InputError, NotFoundError, StateError
from ..warehouse.operational import open_operational
from .store import ROLES, ApiKey, User

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "KEY_PREFIX",
    "SESSION_COOKIE",
    "SESSION_MAX_AGE",
    "SESSION_SECRET_ENV",
    "LoginThrottle",
    "Principal",
    "SessionSigner",
    "authenticate_key",
    "authenticate_password",
    "cached_key_principal",
    "create_user",
    "hash_password",
    "list_users",
    "principal_by_id",
    "revoke_user",
    "session_secret",
    "verify_password",
]

log = logging.getLogger(__name__)

KEY_PREFIX = "cg_"
SESSION_COOKIE = "cg_session"
SESSION_MAX_AGE = 8 * 3600  # one working day
SESSION_SECRET_ENV = "CHURNGUARD_SESSION_SECRET"
_SECRET_FILE = ".session_secret"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}

_U = cast(sa.Table, User.__table__)
_K = cast(sa.Table, ApiKey.__table__)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user with a role (and queues, for agents)."""

    user_id: int
    name: str
    role: str
    queues: tuple[str, ...] = ()
    via: str = "key"  # "key" or "session"

    def has(self, *roles: str) -> bool:
        return self.role in roles


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64) of ``password`` with a random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.b64encode
    return (
        f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}$"
        f"{b64(salt).decode()}${b64(digest).decode()}"
    )


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches a hash from :func:`hash_password` (constant time)."""
    if not stored:
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            dklen=32,
            n=int(n),
            r=int(r),
            p=int(p),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or not all(ch.isalnum() or ch in "._-@" for ch in name):
        raise InputError(
            f"user name {name!r} is not valid: use 1-64 letters, digits, '.', '_', '-' or '@'"
        )
    return name


def create_user(
    settings: Settings,
    name: str,
    *,
    role: str,
    queues: tuple[str, ...] | list[str] = (),
    password: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Create a user and its first API key; returns the user and the key (shown once).

    Raises
    ------
    InputError
        Unknown role, bad name, queues given to a non-agent, or a short password.
    StateError
        A user of that name exists already.
    """
    name = _check_name(name)
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    qs = tuple(dict.fromkeys(q.strip() for q in queues if q.strip()))
    if qs and role != "agent":
        raise InputError("only agents work queues; drop --queue or use --role agent")
    if password is not None and len(password) < 8:
        raise InputError("the password must have at least 8 characters")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    engine = open_operational(settings)
    with engine.begin() as conn:
        exists = conn.execute(sa.select(_U.c.id).where(_U.c.name == name)).first()
        if exists is not None:
            raise StateError(
                f"a user named {name!r} exists already; pick another name or "
                f"'churnguard users revoke {name}' first"
            )
        inserted = conn.execute(
            sa.insert(_U).values(
                name=name,
                role=role,
                queues=list(qs),
                password_hash=hash_password(password) if password else None,
                active=True,
                created_at=now,
            )
        )
        uid = inserted.inserted_primary_key[0] if inserted.inserted_primary_key else None
        if uid is None:
            raise StateError("the user could not be stored; check the operational database")
        conn.execute(
            sa.insert(_K).values(
                user_id=uid,
                prefix=key[: len(KEY_PREFIX) + 6],
                key_hash=_key_hash(key),
                created_at=now,
            )
        )
    log.info("user %s created with role %s", name, role)
    user = {"id": int(uid), "name": name, "role": role, "queues": list(qs), "active": True}
    return user, key


def list_users(settings: Settings) -> list[dict[str, Any]]:
    """Every user with role, queues, state and the visible prefixes of their keys."""
    engine = open_operational(settings)
    with engine.connect() as conn:
        users = conn.execute(sa.select(_U).order_by(_U.c.id)).mappings().all()
        keys = conn.execute(
            sa.select(_K.c.user_id, _K.c.prefix).where(_K.c.revoked_at.is_(None))
        ).all()
    prefixes: dict[int, list[str]] = {}
    for uid, prefix in keys:
        prefixes.setdefault(int(uid), []).append(prefix + "…")
    return [
        {
            "id": int(u["id"]),
            "name": u["name"],
            "role": u["role"],
            "queues": list(u["queues"] or []),
            "active": bool(u["active"]),
            "has_password": u["password_hash"] is not None,
            "keys": prefixes.get(int(u["id"]), []),
            "created_at": u["created_at"].isoformat(),
            "revoked_at": u["revoked_at"].isoformat() if u["revoked_at"] else None,
        }
        for u in users
    ]


def revoke_user(settings: Settings, name: str) -> dict[str, Any]:
    """Deactivate a user and revoke all their keys (sessions stop working at once)."""
    now = datetime.now(UTC)
    engine = open_operational(settings)
    with engine.begin() as conn:
        row = conn.execute(sa.select(_U.c.id, _U.c.role).where(_U.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"no user {name!r}; 'churnguard users list' shows the users")
        conn.execute(sa.update(_U).where(_U.c.id == row.id).values(active=False, revoked_at=now))
        n = conn.execute(
            sa.update(_K)
            .where(_K.c.user_id == row.id, _K.c.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
    return {"name": name, "role": row.role, "keys_revoked": int(n or 0)}


def _principal(row: Any, *, via: str) -> Principal:
    return Principal(
        user_id=int(row.id),
        name=str(row.name),
        role=str(row.role),
        queues=tuple(row.queues or ()),
        via=via,
    )


class _KeyCache:
    """Principals of API keys seen lately, valid only while the operational database is unchanged.

    SQLite only. ``PRAGMA data_version`` read on a connection of its own (that
    never writes) changes as soon as any other connection, of this process or
    another, commits; the cache is emptied then, so a revoked key or user is
    refused on the very next request, as without the cache. A principal is kept
    only when no commit happened between the version read before its lookup and
    the store. Unknown keys are never cached.
    """

    _MAX = 10_000

    def __init__(self, path: str) -> None:
        # timeout 0: a busy file answers None (the caller queries) instead of waiting
        self._con = sqlite3.connect(path, timeout=0, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._version: int | None = None
        self._principals: dict[str, Principal] = {}

    def _current(self) -> int:
        # fetchall: step the statement to its end, so no read transaction stays open
        return int(self._con.execute("PRAGMA data_version").fetchall()[0][0])

    def _sync(self) -> tuple[int | None, bool]:
        """The current version and whether it moved (the cache is emptied then); lock held."""
        try:
            v = self._current()
        except sqlite3.Error:
            return None, False
        moved = v != self._version
        if moved:
            self._principals.clear()
            self._version = v
        return v, moved

    def version(self) -> int | None:
        """The database's current version (``None``: cannot tell; do not cache)."""
        with self._lock:
            return self._sync()[0]

    def get(self, digest: str) -> Principal | None:
        with self._lock:
            v, moved = self._sync()
            if v is None or moved:
                return None
            return self._principals.get(digest)

    def put(self, digest: str, principal: Principal, version: int) -> None:
        with self._lock:
            try:
                unchanged = self._current() == version == self._version
            except sqlite3.Error:
                return
            if unchanged:
                if len(self._principals) >= self._MAX:
                    self._principals.clear()
                self._principals[digest] = principal


_KEY_CACHES: dict[str, _KeyCache | None] = {}
_KEY_CACHES_LOCK = threading.Lock()


_LAST: tuple[Settings, _KeyCache | None] | None = None


def _key_cache(settings: Settings) -> _KeyCache | None:
    """The key cache of the workspace's SQLite file (``None`` for other databases)."""
    global _LAST
    last = _LAST
    if last is not None and last[0] is settings:  # the service's one Settings: no URL to build
        return last[1]
    url = settings.operational_url
    if url in _KEY_CACHES:
        _LAST = (settings, _KEY_CACHES[url])
        return _KEY_CACHES[url]
    with _KEY_CACHES_LOCK:
        if url not in _KEY_CACHES:
            cache = None
            parsed = sa.engine.make_url(url)
            db = parsed.database
            if (
                parsed.get_backend_name() == "sqlite"
                and db
                and db != ":memory:"
                and not parsed.query
            ):
                open_operational(settings)  # the file exists and is migrated
                try:
                    cache = _KeyCache(db)
                except sqlite3.Error:
                    cache = None
            _KEY_CACHES[url] = cache
        return _KEY_CACHES[url]


def cached_key_principal(settings: Settings, key: str) -> Principal | None:
    """The principal of ``key`` when the key cache can answer without a query, else ``None``.

    ``None`` does not mean the key is invalid: ask :func:`authenticate_key`.
    """
    if not key.startswith(KEY_PREFIX) or len(key) > 128:
        return None
    cache = _key_cache(settings)
    return None if cache is None else cache.get(_key_hash(key))


def authenticate_key(settings: Settings, key: str) -> Principal | None:
    """The active user owning ``key`` (one indexed lookup by hash), else ``None``.

    On SQLite the answer is cached until the next commit to the database (see
    :class:`_KeyCache`), so a repeated key costs no query.
    """
    if not key.startswith(KEY_PREFIX) or len(key) > 128:
        return None
    digest = _key_hash(key)
    cache = _key_cache(settings)
    if cache is not None:
        hit = cache.get(digest)
        if hit is not None:
            return hit
    version = cache.version() if cache is not None else None
    engine = open_operational(settings)
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(_U.c.id, _U.c.name, _U.c.role, _U.c.queues)
            .join(_K, _K.c.user_id == _U.c.id)
            .where(_K.c.key_hash == digest, _K.c.revoked_at.is_(None), _U.c.active)
        ).first()
    if row is None:
        return None
    principal = _principal(row, via="key")
    if cache is not None and version is not None:
        cache.put(digest, principal, version)
    return principal


def authenticate_password(settings: Settings, name: str, password: str) -> Principal | None:
    """The active user ``name`` when ``password`` is theirs, else ``None``."""
    engine = open_operational(settings)
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(_U.c.id, _U.c.name, _U.c.role, _U.c.queues, _U.c.password_hash).where(
                _U.c.name == name, _U.c.active
            )
        ).first()
    if row is None:
        # same work as a wrong password, so response time does not reveal user names
        verify_password(password, _DUMMY_HASH)
        return None
    if not verify_password(password, row.password_hash):
        return None
    return _principal(row, via="session")


def principal_by_id(settings: Settings, user_id: int) -> Principal | None:
    """The active user with this id (sessions re-check the user on every request)."""
    engine = open_operational(settings)
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(_U.c.id, _U.c.name, _U.c.role, _U.c.queues).where(
                _U.c.id == user_id, _U.c.active
            )
        ).first()
    return None if row is None else _principal(row, via="session")


_DUMMY_HASH = hash_password(secrets.token_urlsafe(12))


def session_secret(settings: Settings) -> str:
    """The cookie-signing secret: ``$CHURNGUARD_SESSION_SECRET``, else the workspace's file.

    The file is created on first use with 0600 permissions and 32 random bytes.
    """
    env = os.environ.get(SESSION_SECRET_ENV)
    if env:
        if len(env) < 16:
            raise InputError(f"${SESSION_SECRET_ENV} must have at least 16 characters")
        return env
    path: Path = settings.workspace / _SECRET_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_urlsafe(32))
    os.chmod(path, 0o600)
    return path.read_text(encoding="ascii").strip()


class SessionSigner:
    """Signs and checks the session cookie's value (user id and login time)."""

    def __init__(self, secret: str, *, max_age: int = SESSION_MAX_AGE) -> None:
        self._s = URLSafeTimedSerializer(secret, salt="churnguard-session")
        self.max_age = max_age

    def dumps(self, principal: Principal) -> str:
        return str(self._s.dumps({"uid": principal.user_id}))

    def loads(self, value: str) -> int | None:
        """The user id in a valid, unexpired cookie, else ``None``."""
        try:
            data = self._s.loads(value, max_age=self.max_age)
        except BadSignature:
            return None
        uid = data.get("uid") if isinstance(data, dict) else None
        return uid if isinstance(uid, int) else None


class LoginThrottle:
    """Refuses sign-ins for a user name after ``limit`` failures within ``window`` seconds.

    In memory, per process: it slows down password guessing against one account
    without a table write per attempt (failures are audited anyway).
    """

    def __init__(self, *, limit: int = 5, window: float = 900.0) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, name: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(name, []) if now - t < self.window]
        if kept:
            self._failures[name] = kept
        else:
            self._failures.pop(name, None)
        return kept

    def blocked_for(self, name: str) -> float:
        """Seconds until ``name`` may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            recent = self._recent(name, now)
            if len(recent) < self.limit:
                return 0.0
            return max(0.0, self.window - (now - recent[0]))

    def failed(self, name: str) -> None:
        with self._lock:
            self._failures.setdefault(name, []).append(time.monotonic())

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)
