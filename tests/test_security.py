"""The credential check on its own: no app, no HTTP, just values in and a Caller or a 401 out."""

import pytest
from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import SecretStr

from workshop_app.exceptions import UnauthorizedError
from workshop_app.security import CHALLENGE, Caller, api_key_header, authenticate, bearer_scheme

KEY = SecretStr("s3cret-key")


@pytest.mark.parametrize(
    ("api_key", "bearer_token", "scheme"),
    [("s3cret-key", None, "api_key"), (None, "s3cret-key", "bearer")],
)
def test_the_right_key_in_either_place_is_accepted(api_key, bearer_token, scheme) -> None:
    caller = authenticate(KEY, api_key=api_key, bearer_token=bearer_token)
    assert caller == Caller(name="api-client", auth_scheme=scheme)


def test_missing_credentials_name_both_options() -> None:
    with pytest.raises(UnauthorizedError) as caught:
        authenticate(KEY, api_key=None, bearer_token=None)
    assert caught.value.message.startswith("Missing credentials")
    assert caught.value.headers == CHALLENGE == {"WWW-Authenticate": "APIKey, Bearer"}


@pytest.mark.parametrize(
    "presented",
    ["", "s3cret-ke", "s3cret-key ", "S3CRET-KEY", "s3cret-kéy", "\x00"],
    ids=["empty", "prefix", "trailing-space", "case", "non-ascii", "nul"],
)
def test_anything_else_is_invalid_not_a_crash(presented: str) -> None:
    with pytest.raises(UnauthorizedError, match="Invalid credentials") as caught:
        authenticate(KEY, api_key=presented, bearer_token=None)
    assert caught.value.headers == CHALLENGE


def test_x_api_key_wins_over_a_right_bearer_token() -> None:
    """One credential is checked, never "any of them": a wrong key is not rescued."""
    with pytest.raises(UnauthorizedError, match="Invalid"):
        authenticate(KEY, api_key="wrong", bearer_token="s3cret-key")


def test_the_caller_never_carries_the_credential() -> None:
    caller = authenticate(KEY, api_key="s3cret-key", bearer_token=None)
    assert "s3cret-key" not in caller.model_dump_json()
    assert "s3cret-key" not in repr(caller)


def test_the_schemes_leave_the_401_to_us() -> None:
    """auto_error=False: FastAPI's own 401/403 would bypass the envelope and the challenge."""
    assert isinstance(api_key_header, APIKeyHeader) and api_key_header.auto_error is False
    assert isinstance(bearer_scheme, HTTPBearer) and bearer_scheme.auto_error is False
    assert api_key_header.model.name == "X-API-Key"
