"""The JWT replay store on real PostgreSQL and on SQLite: the same answers from both."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec

from cds_hooks.auth import (
    JwtAuthenticator,
    SqlJtiStore,
    TokenRefused,
    jti_table,
    load_trusted_issuers,
)
from tests.cds_hooks.conftest import PUBLIC_URL, public_jwk
from tests.integration.postgres import database_of

pytestmark = pytest.mark.integration

AUD = PUBLIC_URL + "/cds-services"
ISS = "https://ehr.example.org"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with database_of(request.param, tmp_path_factory.mktemp("jti")) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url)
    SqlJtiStore(engine)  # creates the table
    with engine.begin() as connection:
        connection.execute(sa.delete(jti_table))
    yield engine
    engine.dispose()


def test_a_fresh_jti_is_new_and_its_second_use_is_a_replay(engine: sa.Engine) -> None:
    store = SqlJtiStore(engine)
    jti = str(uuid.uuid4())
    assert store.add(ISS, jti, time.time() + 300) is True
    assert store.add(ISS, jti, time.time() + 300) is False
    assert store.add("https://other.example", jti, time.time() + 300) is True


def test_expired_ids_are_forgotten(engine: sa.Engine) -> None:
    store = SqlJtiStore(engine)
    assert store.add(ISS, "old", time.time() - 1)
    assert store.add(ISS, "new", time.time() + 300)
    with engine.connect() as connection:
        left = connection.execute(sa.select(jti_table.c.jti)).scalars().all()
    assert left == ["new"]
    assert store.add(ISS, "old", time.time() + 300)  # its replay fails on `exp` instead


def test_concurrent_uses_of_one_jti_admit_exactly_one(engine: sa.Engine) -> None:
    # As two gunicorn workers would: separate stores (and connections) on one database.
    stores = [SqlJtiStore(engine) for _ in range(8)]
    results: list[bool] = []
    barrier = threading.Barrier(len(stores))

    def use(store: SqlJtiStore) -> None:
        barrier.wait()
        results.append(store.add(ISS, "shared", time.time() + 300))

    threads = [threading.Thread(target=use, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_authenticator_on_the_database(engine: sa.Engine, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / "keys.json").write_text(json.dumps({"keys": [public_jwk(key, "k1")]}))
    (tmp_path / "issuers.json").write_text(
        json.dumps({"issuers": [{"iss": ISS, "jwks_file": "keys.json"}]})
    )
    issuers = load_trusted_issuers(tmp_path / "issuers.json")
    auth = JwtAuthenticator(issuers, requests.Session(), SqlJtiStore(engine))

    def bearer(jti: str) -> str:
        now = int(time.time())
        claims = {"iss": ISS, "aud": AUD, "iat": now, "exp": now + 300, "jti": jti}
        return "Bearer " + jwt.encode(claims, key, algorithm="ES384", headers={"kid": "k1"})

    longest = bearer("j" * 256)
    assert auth.authenticate(longest, AUD)["jti"] == "j" * 256
    with pytest.raises(TokenRefused) as caught:
        auth.authenticate(longest, AUD)
    assert caught.value.code == "replay"
    # Refused before the database, which would fail on them (PostgreSQL: too long, NUL).
    for jti in ("j" * 257, "a\x00b"):
        with pytest.raises(TokenRefused) as caught:
            auth.authenticate(bearer(jti), AUD)
        assert caught.value.code == "jti"
