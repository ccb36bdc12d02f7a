"""Users, passwords, JWT access and refresh tokens, API keys, roles and isolation, the login rate
limit, and the database's versioned schema. Oracles: pyjwt decodes what we issue with the secret in
the database; argon2-cffi verifies the stored hashes; SQLAlchemy's inspector sees the tables."""

from __future__ import annotations

import time

import jwt
import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, inspect, select, text

from axon_server.db import SCHEMA_VERSION, Database, Setting, User


@pytest.fixture()
def server(make_client, tmp_path, monkeypatch):
    monkeypatch.setenv("AXON_ADMIN_USER", "root")
    monkeypatch.setenv("AXON_ADMIN_PASSWORD", "root-password-1")
    with make_client(data_dir=tmp_path, login_max_failures=3, login_window_s=30) as c:
        yield c, tmp_path


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(c, username, password):
    return c.post("/auth/login", json={"username": username, "password": password}, headers={"Authorization": ""})


def add_user(c, username, role="user", password="password-123"):
    r = c.post("/users", json={"username": username, "password": password, "role": role})
    assert r.status_code == 201, r.text
    return r.json()


def test_schema_is_versioned_and_created_on_first_start(server):
    c, data = server
    engine = create_engine(f"sqlite:///{data / 'axon.db'}")
    tables = set(inspect(engine).get_table_names())
    assert {"schema_version", "settings", "users", "api_keys", "refresh_tokens"} <= tables
    with engine.connect() as conn:
        assert conn.execute(text("select max(version) from schema_version")).scalar() == SCHEMA_VERSION
    engine.dispose()
    db = Database(f"sqlite:///{data / 'axon.db'}")
    assert db.migrate() == SCHEMA_VERSION  # a second start applies nothing
    with db.session() as s:
        assert s.execute(select(User.username)).scalars().all() == ["root"]
    db.close()


def test_a_database_newer_than_the_code_is_refused(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    assert db.version() == 0 and db.migrate() == SCHEMA_VERSION
    with db.session() as s:
        s.execute(text("insert into schema_version values (99, '2000-01-01 00:00:00')"))
    with pytest.raises(RuntimeError, match="schema version 99"):
        db.migrate()
    db.close()


def test_login_tokens_and_refresh_rotation(server):
    c, data = server
    add_user(c, "alice")
    r = login(c, "alice", "password-123")
    assert r.status_code == 200, r.text
    pair = r.json()
    db = Database(f"sqlite:///{data / 'axon.db'}")
    with db.session() as s:
        secret = s.get(Setting, "jwt_secret").value
        stored = s.execute(select(User.password_hash).where(User.username == "alice")).scalar_one()
    db.close()
    assert PasswordHasher().verify(stored, "password-123") and stored.startswith("$argon2id$")
    claims = jwt.decode(pair["access_token"], secret, algorithms=["HS256"], issuer="axon-server")
    assert claims["name"] == "alice" and claims["role"] == "user" and claims["typ"] == "access"
    me = c.get("/auth/me", headers=bearer(pair["access_token"])).json()
    assert me["username"] == "alice" and me["via"] == "jwt"
    assert c.get("/v1/models", headers=bearer(pair["access_token"])).status_code == 200
    # a refresh token is not an access token, and each refresh token works once
    assert c.get("/auth/me", headers=bearer(pair["refresh_token"])).status_code == 401
    new = c.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}, headers={"Authorization": ""})
    assert new.status_code == 200
    replay = c.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}, headers={"Authorization": ""})
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "invalid_token"
    out = c.post("/auth/logout", json={"refresh_token": new.json()["refresh_token"]}, headers={"Authorization": ""})
    assert out.status_code == 200
    again = c.post("/auth/refresh", json={"refresh_token": new.json()["refresh_token"]}, headers={"Authorization": ""})
    assert again.status_code == 401


def test_forged_expired_and_malformed_tokens_are_401(server):
    c, data = server
    user = add_user(c, "bob")
    now = int(time.time())
    claims = {"sub": str(user["id"]), "name": "bob", "role": "admin", "typ": "access", "iss": "axon-server"}
    forged = jwt.encode({**claims, "iat": now, "exp": now + 600}, "a" * 48, algorithm="HS256")
    db = Database(f"sqlite:///{data / 'axon.db'}")
    with db.session() as s:
        secret = s.get(Setting, "jwt_secret").value
    db.close()
    expired = jwt.encode({**claims, "iat": now - 1000, "exp": now - 10}, secret, algorithm="HS256")
    unsigned = jwt.encode({**claims, "iat": now, "exp": now + 600}, None, algorithm="none")
    good = jwt.encode({**claims, "iat": now, "exp": now + 600}, secret, algorithm="HS256")
    for token in [forged, expired, unsigned, good[:-3] + "AAA", "not.a.jwt", "axk_" + "x" * 43]:
        r = c.get("/auth/me", headers=bearer(token))
        assert r.status_code == 401, token
        assert r.json()["error"]["type"] == "authentication_error"
    assert "expired" in c.get("/auth/me", headers=bearer(expired)).json()["error"]["message"]
    assert c.get("/auth/me", headers=bearer(good)).json()["role"] == "user"  # the role comes from the database


def test_api_keys_roles_and_isolation(server):
    c, _ = server
    add_user(c, "carol")
    add_user(c, "dave")
    add_user(c, "eve", role="read-only")
    token = {u: login(c, u, "password-123").json()["access_token"] for u in ("carol", "dave", "eve")}
    created = c.post("/auth/keys", json={"name": "laptop"}, headers=bearer(token["carol"]))
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("axk_") and c.get("/auth/me", headers=bearer(key)).json()["username"] == "carol"
    assert c.get("/v1/models", headers=bearer(key)).status_code == 200
    carol_keys = c.get("/auth/keys", headers=bearer(token["carol"])).json()["data"]
    assert [k["name"] for k in carol_keys] == ["laptop"] and "key" not in carol_keys[0]
    assert c.get("/auth/keys", headers=bearer(token["dave"])).json()["data"] == []
    stolen = c.delete(f"/auth/keys/{carol_keys[0]['id']}", headers=bearer(token["dave"]))
    assert stolen.status_code == 404  # another user's key is not even revealed to exist
    assert c.get("/auth/me", headers=bearer(key)).status_code == 200
    for who in ("carol", "eve"):
        r = c.post("/users", json={"username": "mallory", "password": "password-123"}, headers=bearer(token[who]))
        assert r.status_code == 403 and r.json()["error"]["code"] == "admin_only"
    assert c.get("/users", headers=bearer(token["carol"])).status_code == 403
    assert c.delete(f"/auth/keys/{carol_keys[0]['id']}", headers=bearer(token["carol"])).status_code == 200
    assert c.get("/auth/me", headers=bearer(key)).status_code == 401
    assert c.delete("/auth/keys/..x", headers=bearer(token["carol"])).status_code == 422  # ids are ints
    assert c.delete("/auth/keys/..%2F..%2Fetc", headers=bearer(token["carol"])).status_code == 404  # no such route
    users = c.get("/users").json()["data"]
    dave = next(u for u in users if u["username"] == "dave")
    assert c.delete(f"/users/{dave['id']}").status_code == 200
    assert c.get("/auth/me", headers=bearer(token["dave"])).status_code == 401  # deleted user's token


def test_bad_user_bodies(server):
    c, _ = server
    for body in [
        {"username": "../etc", "password": "password-123"},
        {"username": "a/b", "password": "password-123"},
        {"username": "ok", "password": "short"},
        {"username": "ok", "password": "password-123", "role": "root"},
        {"username": "ok", "password": "password-123", "admin": True},
    ]:
        assert c.post("/users", json=body).status_code == 422, body
    add_user(c, "frank")
    assert c.post("/users", json={"username": "frank", "password": "password-123"}).status_code == 409


def test_login_is_rate_limited(server):
    c, _ = server
    add_user(c, "gina")
    for _ in range(3):
        assert login(c, "gina", "wrong-password").status_code == 401
    locked = login(c, "gina", "password-123")  # even the right password, while locked
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    assert locked.json()["error"]["code"] == "login_rate_limited"
    assert login(c, "nobody", "x").status_code == 429  # the address is locked too


def test_login_of_unknown_user_is_the_same_401(server):
    c, _ = server
    unknown, wrong = login(c, "nobody", "password-123"), login(c, "root", "password-123")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
