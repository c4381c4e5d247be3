"""Exercise of notebook 12 (capstone): the environment of a production deployment.

A deployment configures the app with environment variables only, so the learner writes the
function a deploy would call to produce them: ``production_env(database_password,
behind_proxy)``. The check calls it for two deployments (a new password each time, one of
them full of characters that mean something in a URL; once without a proxy, once behind
one) and once more to see that the API key does not change between calls. It reads each
result exactly as ``Settings`` would (and nothing else: not the kernel's environment, not a
``.env``), turns each refusal into a hint, adds the rules ``Settings`` cannot know (a
database that outlives a container, a key nobody invented, no demo data, the client
address behind a proxy or without one, a drain that fits the grace period), then starts the
app with the result on a migrated database standing in for PostgreSQL and calls it.

Hints name the variable and the reason, never the value to write, and never show the key
or the password.
"""

from __future__ import annotations

import difflib
import inspect
import re
import secrets
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from alembic import command
from alembic.config import Config
from pydantic import ValidationError
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from ..client import app_client
from ._base import (
    Exercise,
    ExerciseFailed,
    is_coroutine_function,
    plain_result,
    scratch_database_url,
)

NOTEBOOK_ID = "12_capstone"
PREFIX = "WORKSHOP_"
DEV_API_KEY = "workshop-dev-key"
MIN_KEY_LENGTH = 32
# A random 32-character hex key shows 14 different characters on average; 9 or fewer happen
# about once in 12,000 keys, 6 or fewer about once in five billion. A check must never
# refuse a key that secrets.token_hex(16) made.
MIN_DISTINCT_CHARACTERS = 7
GRACE_PERIOD_SECONDS = 20.0  # docker-compose.yml: the app's stop_grace_period
# The database service of docker-compose.yml.
DATABASE = {"host": "db", "port": 5432, "username": "orders", "database": "orders"}
DRIVER = "asyncpg"  # what the image installs: the package's `postgres` extra
URL_SPECIAL = "@/:%#?"
# Words that people put in keys they invent (five letters or more: a random key of 43
# characters contains one of them by chance about once in a hundred thousand).
KEY_WORDS = (
    "secret",
    "passw",
    "change",
    "production",
    "example",
    "default",
    "admin",
    "orders",
    "workshop",
    "letmein",
    "qwert",
    "apikey",
    "token",
)

PRODUCTION_ENV_STARTER = '''\
def production_env(database_password: str, behind_proxy: bool) -> dict[str, str]:
    """The WORKSHOP_* variables of the app in the deployment of docker-compose.yml.

    database_password: the password of PostgreSQL's user `orders`, from the secret store.
    behind_proxy: True when a reverse proxy that overwrites X-Forwarded-For is in front.
    """
    return {
        "WORKSHOP_ENVIRONMENT": "production",
        # TODO: everything production must not take from the development defaults: the
        # schema, the database (service `db`, user and database `orders`), the API key,
        # the client's address with or without a proxy, and what must stay off.
    }
'''

PRODUCTION_ENV_SOLUTION = '''\
from sqlalchemy import URL

# Made once with secrets.token_urlsafe(32); a real deployment keeps it in the secret store.
API_KEY = "7byyktTH17qCmsIzJ0GHqAaO52MPn-H756OeGR5oDFg"


def production_env(database_password: str, behind_proxy: bool) -> dict[str, str]:
    """The WORKSHOP_* variables of the app in the deployment of docker-compose.yml.

    database_password: the password of PostgreSQL's user `orders`, from the secret store.
    behind_proxy: True when a reverse proxy that overwrites X-Forwarded-For is in front.
    """
    database_url = URL.create(
        "postgresql+asyncpg",  # the async driver the image installs
        username="orders",
        password=database_password,  # escaped: an '@' or '/' in it cannot break the URL
        host="db",
        port=5432,
        database="orders",
    )
    return {
        "WORKSHOP_ENVIRONMENT": "production",
        # The tables come from `alembic upgrade head`, run once per release before the app.
        "WORKSHOP_AUTO_CREATE_SCHEMA": "false",
        "WORKSHOP_DATABASE_URL": database_url.render_as_string(hide_password=False),
        "WORKSHOP_API_KEY": API_KEY,
        # X-Forwarded-For means something only when a proxy of ours overwrites it.
        "WORKSHOP_TRUST_FORWARDED_FOR": "true" if behind_proxy else "false",
        # Said out loud rather than left to the defaults: a reviewer sees them.
        "WORKSHOP_DEBUG": "false",
        "WORKSHOP_SEED_DEMO_DATA": "false",
        "WORKSHOP_RATE_LIMIT_ENABLED": "true",
        "WORKSHOP_LOG_LEVEL": "INFO",
    }
'''


# --- calling the learner's function ---------------------------------------------------


def _require_function(candidate: Any) -> None:
    if not callable(candidate):
        raise ExerciseFailed(
            f"Expected the function production_env, got {type(candidate).__name__}: pass the "
            'function itself, lab.check("12.production_settings", production_env).'
        )
    if is_coroutine_function(candidate):
        raise ExerciseFailed(
            "production_env is `async def`: a deploy reads its result directly, and there is "
            "nothing to await. Make it a plain `def`."
        )


def _call(candidate: Any, password: str, behind_proxy: bool) -> Mapping[str, Any]:
    """Call with two positional arguments, or by the starter's names when those fit better."""
    args: tuple[Any, ...] = (password, behind_proxy)
    kwargs: dict[str, Any] = {}
    try:
        signature = inspect.signature(candidate)
    except (TypeError, ValueError):  # a builtin or C callable: just call it
        signature = None
    if signature is not None:
        try:
            signature.bind(*args)
        except TypeError:
            try:
                signature.bind(database_password=password, behind_proxy=behind_proxy)
            except TypeError:
                raise ExerciseFailed(
                    f"production_env{signature} cannot be called with the deployment's two "
                    "facts: keep the starter's parameters, (database_password, behind_proxy). "
                    "The check calls it for several deployments, as a deploy script would."
                ) from None
            args, kwargs = (), {"database_password": password, "behind_proxy": behind_proxy}
    env = plain_result(
        candidate(*args, **kwargs),
        "production_env returned an awaitable: make it a plain `def` that returns the dict.",
    )
    if not isinstance(env, Mapping):
        raise ExerciseFailed(
            f"production_env(...) returned {type(env).__name__}: return a dict of environment "
            "variables, each name mapped to its value."
        )
    return env


# --- reading the variables as the app would -------------------------------------------


def _fields(env: Mapping[Any, Any]) -> dict[str, str]:
    """Map WORKSHOP_* names to Settings fields, refusing what the app would not read."""
    from workshop_app.config import Settings  # the learner's current module

    known = {f"{PREFIX}{name.upper()}": name for name in Settings.model_fields}
    fields: dict[str, str] = {}
    for key, value in env.items():
        if not isinstance(key, str):
            raise ExerciseFailed(
                f"The key {key!r} is not a string: name each variable, like WORKSHOP_DEBUG."
            )
        if not isinstance(value, str):
            # The value itself is not shown: it may be the key or a password.
            raise ExerciseFailed(
                f"{key} is a {type(value).__name__}: environment variables are always text. "
                "Write the value as a string (the app reads a boolean from text such as "
                "true/false, 1/0, yes/no)."
            )
        name = known.get(key.upper())
        if name is None:
            raise ExerciseFailed(_unknown_variable(key, known))
        if name in fields:
            raise ExerciseFailed(
                f"{PREFIX}{name.upper()} is set twice (the names differ only in case): the "
                "app reads names in any case and keeps one of them, not necessarily yours."
            )
        fields[name] = value
    return fields


def _unknown_variable(key: str, known: Mapping[str, str]) -> str:
    if key.upper() == "FORWARDED_ALLOW_IPS":
        return (
            "FORWARDED_ALLOW_IPS is uvicorn's variable, set with its command line: this "
            "function returns the app's own WORKSHOP_* variables. The app's rate limiter "
            "has its own setting for the client's address behind a proxy."
        )
    close = difflib.get_close_matches(key.upper(), known, n=1)
    guess = f" Did you mean {close[0]}?" if close else ""
    reason = (
        "is not a setting of the app"
        if key.upper().startswith(PREFIX)
        else f"lacks the {PREFIX} prefix"
    )
    return (
        f"{key} {reason}: the app never reads it. A misspelled variable is ignored without "
        f"a word, and the app runs on the default.{guess}"
    )


def _validate(fields: dict[str, str]) -> Any:
    """Build Settings from these values only (no process environment, no .env file)."""
    from workshop_app.config import Settings

    class FromTheseVariablesOnly(Settings):
        @classmethod
        def settings_customise_sources(cls, settings_cls: Any, **sources: Any) -> tuple:  # type: ignore[override]
            return (sources["init_settings"],)

    try:
        return FromTheseVariablesOnly(**fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["loc"]:  # a field's own rule: name its variable
            variable = f"{PREFIX}{str(error['loc'][0]).upper()}"
            if not message.startswith(variable):
                message = f"{variable}: {message}."
        raise ExerciseFailed(f"Settings refused these variables: {message}") from None


# --- what production needs beyond what Settings refuses -------------------------------


def _check_environment(settings: Any) -> None:
    if settings.environment != "production":
        raise ExerciseFailed(
            f'WORKSHOP_ENVIRONMENT is "{settings.environment}": this is production, and saying '
            "so is what makes the app refuse the laptop defaults (and what its logs report)."
        )


def _check_database(settings: Any, password: str) -> None:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "postgresql":
        raise ExerciseFailed(
            f"The database is {url.get_backend_name()}: a SQLite file lives inside one "
            "container, disappears with it, and a second instance cannot share it. Production "
            "uses PostgreSQL, the service `db` of docker-compose.yml."
        )
    if url.get_driver_name() != DRIVER:
        raise ExerciseFailed(
            f"The URL names the driver {url.get_driver_name()}: the image installs {DRIVER} "
            "(the package's `postgres` extra), and the app needs an async driver."
        )
    if url.password != password:
        raise ExerciseFailed(
            "The URL's password is not the database_password the deploy passed in (the check "
            "sends a new one each time). A password written in the code ends up in the "
            "repository, and every environment would connect with the same one."
        )
    found = {
        "host": url.host,
        "port": url.port or DATABASE["port"],
        "username": url.username,
        "database": url.database,
    }
    if found != DATABASE:
        shown = f"host {url.host!r}, port {found['port']}, user {url.username!r}"
        raise ExerciseFailed(
            f"The URL points at {shown}, database {url.database!r}: the deployment's "
            "database is the service `db` of docker-compose.yml, port 5432, whose user and "
            "database are both `orders`."
        )


def _check_api_key(key: str) -> None:
    """Each rule says why, never the key (hints are shown and stored)."""
    generate = (
        "An API key is never typed by a person: generate it, once, from a secure random "
        "source, and keep it in the secret store."
    )
    if key == DEV_API_KEY:
        raise ExerciseFailed(
            "WORKSHOP_API_KEY is the development key, written in the repository: anyone who "
            f"read the code can call production. {generate}"
        )
    if not (key.isascii() and key.isprintable()) or any(c.isspace() for c in key):
        raise ExerciseFailed(
            "WORKSHOP_API_KEY contains spaces or characters outside printable ASCII: it travels "
            "in an HTTP header and gets pasted into configurations, where those are trimmed, "
            f"re-encoded or refused. {generate}"
        )
    if len(key) < MIN_KEY_LENGTH:
        raise ExerciseFailed(
            f"WORKSHOP_API_KEY has {len(key)} characters: use at least {MIN_KEY_LENGTH} random "
            f"ones (128 bits or more). {generate}"
        )
    if _repeats(key):
        raise ExerciseFailed(
            "WORKSHOP_API_KEY repeats the same piece of text: its length hides how little "
            f"there is to guess, and patterns are what attackers try first. {generate}"
        )
    distinct = len(set(key))
    if distinct < MIN_DISTINCT_CHARACTERS:
        raise ExerciseFailed(
            f"WORKSHOP_API_KEY uses only {distinct} different characters: long, but with "
            f"little to guess. {generate}"
        )
    if _has_run(key):
        raise ExerciseFailed(
            "WORKSHOP_API_KEY contains a run such as abcdefgh or 12345678: a pattern, not "
            f"chance. {generate}"
        )
    if _reads_as_words(key):
        raise ExerciseFailed(
            "WORKSHOP_API_KEY reads as words: dictionary attacks try words and phrases long "
            f"before random strings, whatever the length. {generate}"
        )


def _repeats(key: str) -> bool:
    """A piece of 4+ characters three times, or of 8+ twice, or the whole key periodic."""
    letters = re.sub(r"[^A-Za-z0-9]", "", key)
    for period in range(1, len(letters) // 2 + 1):
        if (letters[:period] * (len(letters) // period + 1))[: len(letters)] == letters:
            return True
    for size, times in ((4, 3), (8, 2)):
        for start in range(len(key) - size + 1):
            if key.count(key[start : start + size]) >= times:
                return True
    return False


def _has_run(key: str, length: int = 8) -> bool:
    """Eight characters or more that go up or down one code point at a time."""
    run, previous = 1, 0
    for before, after in pairwise(key):
        delta = ord(after) - ord(before)
        step = delta in (1, -1)
        run = (run + 1 if delta == previous else 2) if step else 1
        previous = delta
        if run >= length:
            return True
    return False


def _reads_as_words(key: str) -> bool:
    lowered = key.lower()
    if any(word in lowered for word in KEY_WORDS):
        return True
    parts = [part for part in re.split(r"[^A-Za-z0-9]+", key) if part]
    wordlike = [
        part
        for part in parts
        if part.isdigit()
        or (part.isalpha() and (part.islower() or part.isupper() or part.istitle()))
    ]
    return len(parts) >= 3 and len(wordlike) == len(parts)


def _check_switches(settings: Any, behind_proxy: bool) -> None:
    if settings.log_level == "DEBUG":
        raise ExerciseFailed(
            "WORKSHOP_LOG_LEVEL is DEBUG: production logs would fill with every library's "
            "internals and details of requests, which end up in a log store many people read."
        )
    if settings.log_level != "INFO":
        raise ExerciseFailed(
            f"WORKSHOP_LOG_LEVEL is {settings.log_level}: that drops the INFO lines, the access "
            "log among them (one line per request, with its request id: how support finds the "
            "request a client reports)."
        )
    if not settings.rate_limit_enabled:
        raise ExerciseFailed(
            "WORKSHOP_RATE_LIMIT_ENABLED is off: nothing would slow down a client in a loop or "
            "a script trying keys, and one such client can take the service from everyone."
        )
    if settings.trust_forwarded_for and not behind_proxy:
        raise ExerciseFailed(
            "Without a proxy in front (behind_proxy=False), WORKSHOP_TRUST_FORWARDED_FOR is "
            "on: any client can send its own X-Forwarded-For, a new address on every request, "
            "and the rate limit never applies to it."
        )
    if behind_proxy and not settings.trust_forwarded_for:
        raise ExerciseFailed(
            "Behind a proxy (behind_proxy=True), WORKSHOP_TRUST_FORWARDED_FOR is off: every "
            "request then arrives from the proxy's address, all clients share one rate-limit "
            "bucket, and one busy client gets everyone 429s."
        )
    if settings.shutdown_timeout_seconds >= GRACE_PERIOD_SECONDS:
        raise ExerciseFailed(
            f"WORKSHOP_SHUTDOWN_TIMEOUT_SECONDS is {settings.shutdown_timeout_seconds:g}: "
            f"docker-compose.yml gives the app {GRACE_PERIOD_SECONDS:g} s to stop "
            "(stop_grace_period), then kills it, in the middle of the drain. The drain must "
            "end well before the grace period does."
        )


def _check_url_text(fields: Mapping[str, str], password: str) -> None:
    """Before Settings parse it: a URL that hides or breaks the password."""
    raw = fields.get("database_url", "")
    if "***" in raw and "***" not in password:
        raise ExerciseFailed(
            "The URL's password is ***: printing a SQLAlchemy URL, or str() of it, masks the "
            "password. The URL the app connects with must carry the real one."
        )
    if any(c in password for c in URL_SPECIAL) and password in raw:
        raise ExerciseFailed(
            "With a password that contains @, / or : (the check sends one), the URL no longer "
            "says the right user, host and database: those characters separate the parts of "
            "a URL. The password must be escaped inside it."
        )


def _probe_passwords() -> tuple[str, str]:
    """A plain password, and one full of characters that mean something in a URL."""
    plain = secrets.token_urlsafe(12)
    a, b, c = (secrets.token_urlsafe(4) for _ in range(3))
    return plain, f"{a}@{b}/{c}:%#?"


def _settings_for(candidate: Any, password: str, behind_proxy: bool) -> Any:
    fields = _fields(_call(candidate, password, behind_proxy))
    _check_url_text(fields, password)
    settings = _validate(fields)
    _check_environment(settings)
    _check_database(settings, password)
    return settings


# --- the app, started with them ---------------------------------------------------------


def _upgrade_to_head(connection: Connection) -> None:
    config = Config()  # no alembic.ini: no logging configuration for the whole process
    config.set_main_option("script_location", "workshop_app:alembic")
    config.attributes["connection"] = connection  # env.py migrates on this connection
    command.upgrade(config, "head")


async def _migrated_database(url: str) -> None:
    """Run every migration on a new database, as `alembic upgrade head` does in a deploy."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_to_head)
    finally:
        await engine.dispose()


async def _check_the_app_starts(settings: Any) -> None:
    """Run the app with these settings on a migrated SQLite file standing in for PostgreSQL."""
    from workshop_app.main import create_app

    key = settings.api_key.get_secret_value()
    with scratch_database_url("workshop-check-") as url:
        await _migrated_database(url)
        stand_in = settings.model_copy(update={"database_url": url, "log_level": "CRITICAL"})
        try:
            async with app_client(create_app(stand_in)) as client:
                ready = await client.get("/health/ready")
                me = await client.get("/me", headers={"X-API-Key": key})
                anonymous = await client.get("/me")
                development = await client.get("/me", headers={"X-API-Key": DEV_API_KEY})
        except ExerciseFailed:
            raise
        except Exception as exc:  # the lifespan refused: its message names the setting
            raise ExerciseFailed(f"The app did not start with these settings: {exc}") from None
    if ready.status_code != 200:
        raise ExerciseFailed(
            f"GET /health/ready answered {ready.status_code} on a migrated database: "
            f"{ready.text[:200]}"
        )
    if me.status_code != 200:
        raise ExerciseFailed(
            f"GET /me with your WORKSHOP_API_KEY answered {me.status_code}, not 200: the app "
            "must accept the key its clients are given."
        )
    if anonymous.status_code != 401 or development.status_code != 401:
        raise ExerciseFailed(
            f"GET /me answered {anonymous.status_code} without a key and "
            f"{development.status_code} with the development key; expected 401 for both."
        )


async def verify_production_env(candidate: Any) -> None:
    _require_function(candidate)
    plain, special = _probe_passwords()
    direct = _settings_for(candidate, plain, False)
    again = _call(candidate, plain, False)
    key = direct.api_key.get_secret_value()
    if _fields(again).get("api_key") != key:
        raise ExerciseFailed(
            "WORKSHOP_API_KEY changes every time production_env runs: each deploy, and each "
            "instance, would get a new key, and the key your clients hold would stop working. "
            "Make the key once and return that same key every time."
        )
    _check_api_key(key)
    _check_switches(direct, behind_proxy=False)
    proxied = _settings_for(candidate, special, True)
    _check_api_key(proxied.api_key.get_secret_value())
    _check_switches(proxied, behind_proxy=True)
    await _check_the_app_starts(direct)


EXERCISES = (
    Exercise(
        id="12.production_settings",
        notebook_id=NOTEBOOK_ID,
        title="The environment of a production deployment",
        instructions=(
            "Complete production_env(database_password, behind_proxy) -> dict[str, str]: the "
            "WORKSHOP_* variables of the app in the deployment of docker-compose.yml. Settings "
            "must accept them with WORKSHOP_ENVIRONMENT=production; the database is "
            "PostgreSQL (service `db`, user and database `orders`) reached with the password "
            "passed in; the API key is one you generated; nothing that only suits a laptop "
            "stays on; the client's address is read right with and without a proxy."
        ),
        starter=PRODUCTION_ENV_STARTER,
        solution=PRODUCTION_ENV_SOLUTION,
        name="production_env",
        verify=verify_production_env,
        success=(
            "Settings accept both deployments as production, the key is strong and stable, "
            "and the app started with them (on a migrated SQLite file standing in for "
            "PostgreSQL) answers its probe and your key, and refuses the development key."
        ),
        hints=(
            "Production takes nothing from the laptop defaults. Go through what the app reads "
            "and ask of each value: who else can read it, what a restart or a second "
            "instance does with it, and who stands between the client and the app. What "
            "differs between deployments arrives as an argument, never as a constant.",
            "In this notebook: 'A password in a URL'; 'Production settings', with its parts "
            "'What `Settings` refuses', 'What `Settings` cannot know', 'Behind a proxy, or not' "
            "and 'An API key nobody invented'; and, for the database and the grace period, "
            "'The deployment, described: `docker-compose.yml`'.",
        ),
    ),
)
