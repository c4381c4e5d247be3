"""Who is calling: the two ways to present the API key, and the check itself.

The scheme objects are FastAPI security dependencies, so OpenAPI documents both ways
to authenticate (and /docs gets an Authorize button). The check is a plain function
of values, so it can be tested without HTTP; `dependencies.get_caller` wires the two.
"""

import secrets
from typing import Literal

from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import BaseModel, ConfigDict, SecretStr

from workshop_app.exceptions import UnauthorizedError

# auto_error=False: a missing credential arrives as None instead of FastAPI's own
# {"detail": "Not authenticated"} 401, so the answer is our envelope with our challenge header.
api_key_header = APIKeyHeader(name="X-API-Key", scheme_name="ApiKeyHeader", auto_error=False)
bearer_scheme = HTTPBearer(scheme_name="BearerToken", auto_error=False)

# RFC 9110: a 401 names the schemes the client may use.
CHALLENGE = {"WWW-Authenticate": "APIKey, Bearer"}


class Caller(BaseModel):
    """Who is calling. Carries how they authenticated, never the credential itself."""

    model_config = ConfigDict(frozen=True)

    name: str
    auth_scheme: Literal["api_key", "bearer"]


def authenticate(expected: SecretStr, *, api_key: str | None, bearer_token: str | None) -> Caller:
    """Accept the shared key from `X-API-Key` (checked first) or a Bearer token."""
    if api_key is not None:
        presented, auth_scheme = api_key, "api_key"
    elif bearer_token is not None:
        presented, auth_scheme = bearer_token, "bearer"
    else:
        raise UnauthorizedError(
            "Missing credentials: send X-API-Key or Authorization: Bearer.", headers=CHALLENGE
        )
    # compare_digest takes as long for a near miss as for a wild guess: `==` stops at
    # the first differing byte, and that timing leaks the key one byte at a time.
    # Bytes, not str: it rejects non-ASCII str, and a header can carry any byte.
    if not secrets.compare_digest(presented.encode(), expected.get_secret_value().encode()):
        raise UnauthorizedError("Invalid credentials.", headers=CHALLENGE)
    return Caller(name="api-client", auth_scheme=auth_scheme)
