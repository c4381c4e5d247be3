"""Shared by the API tests: an app without rate limits, a cheap password hash, and a client
that checks every response it receives for leaked password material.

Test modules adopt the fixtures by assignment (``api = api_helpers.api``), which pytest
picks up like fixtures defined in the module.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from workshop_app.config import Settings
from workshop_app.services import user_service

API_KEY = "api-test-key-4f1c"
KEY = {"X-API-Key": API_KEY}
ENVELOPE_KEYS = {"code", "message", "request_id", "details"}
PASSWORD = "correct horse battery"
LEAKS = ("password_hash", "scrypt$", PASSWORD)


@pytest.fixture
def app_settings(clean_env: None, database_url: str) -> Settings:
    """Replaces conftest's: these tests send more requests than the default rate limit."""
    return Settings(
        environment="test",
        database_url=database_url,
        api_key=SecretStr(API_KEY),
        rate_limit_enabled=False,
        log_level="WARNING",
    )


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 64x cheaper scrypt: these tests check the API, not resistance to brute force."""
    monkeypatch.setattr(user_service, "SCRYPT_N", 2**8)


@pytest.fixture
async def api(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """conftest's client, plus a check on EVERY response: no password, hash or field name."""
    leaked: list[str] = []

    async def inspect(response: httpx.Response) -> None:
        body = (await response.aread()).decode()
        leaked.extend(
            f"{response.request.method} {response.request.url.path}: {leak!r}"
            for leak in LEAKS
            if leak in body
        )

    client.event_hooks["response"].append(inspect)
    yield client
    assert leaked == [], leaked


def user_body(email: str = "ada@example.com", **fields: Any) -> dict[str, Any]:
    return {"email": email, "full_name": "Ada Lovelace", "password": PASSWORD, **fields}


async def make_user(client: httpx.AsyncClient, email: str = "ada@example.com", **fields) -> dict:
    response = await client.post("/users", json=user_body(email, **fields), headers=KEY)
    assert response.status_code == 201, response.text
    return response.json()


def order_body(*lines: tuple[str, int, int]) -> dict[str, Any]:
    lines = lines or (("KB-1", 2, 4999),)
    return {"lines": [{"sku": s, "quantity": q, "unit_price_cents": p} for s, q, p in lines]}


async def make_order(client: httpx.AsyncClient, user_id: int, *lines) -> dict:
    response = await client.post(f"/users/{user_id}/orders", json=order_body(*lines), headers=KEY)
    assert response.status_code == 201, response.text
    return response.json()


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The envelope of an error response, after checking its status, code and shape."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == ENVELOPE_KEYS and error["code"] == code, error
    assert error["request_id"] == response.headers["x-request-id"]
    return error
