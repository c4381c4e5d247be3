"""Secrets stay secret: not in reprs, dumps, validation errors, logs, responses or the docs.

"Secret" means every ``SecretStr`` setting (today ``api_key``; a new one is covered the day
it is added), the password in a database URL, and the passwords users sign up with. Each
test plants distinctive values and then searches everything the app produced for them:
every log record of every logger at every level (rendered as the app's JSON line and as
plain text with its traceback), everything written to stdout/stderr, and every response
header and body.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import SecretStr, ValidationError
from robustness_helpers import assert_envelope, build_app, capture_every_log, robust_settings

from workshop_app.config import Settings
from workshop_app.services import user_service
from workshop_lab import app_client

pytestmark = pytest.mark.usefixtures("clean_env")

API_KEY = "sk-live-7Hq2-ROBUSTNESS-KEY"
DB_PASSWORD = "db-pw-Zx81-ROBUSTNESS"
PASSWORDS = [f"user-pw-{i}-Kq93mVb" for i in range(8)]
SECRET_FIELDS = sorted(
    name for name, field in Settings.model_fields.items() if field.annotation is SecretStr
)


def secret_settings(**overrides: object) -> Settings:
    values = {name: f"{API_KEY}-{name}" for name in SECRET_FIELDS}
    values["api_key"] = API_KEY
    return robust_settings(**{**values, **overrides})


def planted(settings: Settings) -> list[str]:
    return [getattr(settings, name).get_secret_value() for name in SECRET_FIELDS]


def test_every_secret_setting_is_a_secret_str() -> None:
    assert "api_key" in SECRET_FIELDS


def test_reprs_and_dumps_never_show_a_secret(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/x.db?password={DB_PASSWORD}"
    settings = secret_settings(database_url=url)
    shown = [
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        json.dumps(settings.model_dump(mode="json")),
        repr(settings.model_dump()),
        repr(settings.api_key),
        f"{settings.api_key}",
    ]
    for text in shown:
        for secret in planted(settings):
            assert secret not in text, text[:200]
    # repr=False on database_url: a URL's password stays out of reprs too.
    assert DB_PASSWORD not in repr(settings) and DB_PASSWORD not in str(settings)


@pytest.mark.parametrize(
    "bad",
    [
        {"rate_limit_requests": "many"},
        {"database_url": f"postgresql://app:{DB_PASSWORD}@db.internal/app"},  # sync driver
        {"database_url": f"nosuchdriver://app:{DB_PASSWORD}@db.internal/app"},
        {"environment": "production", "debug": True},
        {"api_key": ["not", "a", "string", API_KEY]},
    ],
)
def test_a_rejected_setting_never_echoes_a_secret(bad: dict) -> None:
    with pytest.raises(ValidationError) as caught:
        robust_settings(**{"api_key": API_KEY, **bad})
    text = str(caught.value) + repr(caught.value)  # what a traceback at startup shows
    assert API_KEY not in text and DB_PASSWORD not in text, text[:300]


def build_noisy_app():
    """The real app, rate limited, plus a route that crashes after reading the secret."""
    app = build_app(
        api_key=API_KEY,
        rate_limit_enabled=True,
        rate_limit_requests=40,
        log_level="DEBUG",
    )

    @app.post("/crash")
    async def crash(payload: dict) -> dict:
        raise RuntimeError("the payment provider is down")

    return app


async def fire_everything(client) -> list:
    """Every kind of answer the app gives, with the key and passwords in every request."""
    key, bearer = {"X-API-Key": API_KEY}, {"Authorization": f"Bearer {API_KEY}"}
    wrong = {"X-API-Key": API_KEY[:-1]}
    calls = [
        client.get("/me", headers=key),
        client.get("/me", headers=bearer),
        client.get("/me", headers=wrong),
        client.get("/me", headers={"X-API-Key": API_KEY + "\r\n"}),
        client.get("/users", headers=key),
        client.get("/no/such/route", headers=key),
        client.delete("/me", headers=key),
        client.post("/crash", headers=key, json={"password": PASSWORDS[1], "key": API_KEY}),
        client.post("/users", headers=key, content=f'{{"password": "{PASSWORDS[2]}"'),  # bad JSON
    ]
    for i, password in enumerate(PASSWORDS):
        user = {"email": f"u{i}@example.com", "full_name": "U", "password": password}
        calls += [
            client.post("/users", headers=key, json=user),  # 201
            client.post("/users", headers=key, json=user),  # 409
            client.post("/users", headers=key, json={**user, "password": password[:7]}),  # 422
            client.post("/users", headers=key, json={**user, "password": password * 20}),  # 422
            client.post("/users", headers=wrong, json=user),  # 401
            client.post("/users", headers=key, json={**user, "email": password}),  # 422
        ]
    return await asyncio.gather(*calls)


@pytest.mark.anyio
async def test_a_busy_run_leaks_no_secret_to_logs_output_or_responses(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(user_service, "SCRYPT_N", 2**8)
    with capture_every_log() as logs:
        async with app_client(build_noisy_app()) as client:
            responses = await fire_everything(client)
            responses += await fire_everything(client)  # the second round also meets a 429
    statuses = {response.status_code for response in responses}
    assert {200, 201, 401, 404, 405, 409, 422, 429, 500} <= statuses, statuses
    assert len(logs.records) >= len(responses)  # one access line each, and more

    out, err = capfd.readouterr()
    # httpx's own records describe the test client's side of the wire, not the app.
    app_records = [record for record in logs.records if not record.name.startswith("httpx")]
    produced = {
        "log records": "\n".join(line for r in app_records for line in logs.render(r)),
        "stdout": out,
        "stderr": err,
        "responses": "\n".join(
            json.dumps(dict(response.headers)) + response.text for response in responses
        ),
    }
    for where, text in produced.items():
        for secret in [API_KEY, *PASSWORDS]:
            assert secret not in text, f"a secret is in the {where}"
    for response in responses:
        if response.status_code >= 400:
            assert_envelope(response)


@pytest.mark.anyio
async def test_a_422_for_a_bad_password_says_where_not_what() -> None:
    app = build_app(api_key=API_KEY)
    body = {"email": "a@example.com", "full_name": "A", "password": "short1"}
    async with app_client(app) as client:
        response = await client.post("/users", json=body, headers={"X-API-Key": API_KEY})
    error = assert_envelope(response)
    assert response.status_code == 422
    assert [detail["field"] for detail in error["details"]] == ["body.password"]
    assert "short1" not in response.text


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc"])
async def test_the_api_docs_show_no_secret(path: str) -> None:
    async with app_client(build_app(api_key=API_KEY)) as client:
        response = await client.get(path)
    assert response.status_code == 200
    assert API_KEY not in response.text
    assert "workshop-dev-key" not in response.text  # nor the default one
