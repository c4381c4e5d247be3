"""Exercises of notebook 01 (structure and settings): a validated setting, built from the env.

The check sets real ``WORKSHOP_*`` environment variables (and restores them), because that is
how the app meets its settings: a field that is declared but never read from the environment,
or read without validation, is exactly the bug this exercise is about.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import BaseSettings

from ._base import Exercise, ExerciseFailed

NOTEBOOK_ID = "01_structure"
PREFIX = "WORKSHOP_"
TIMEOUT_VAR = "WORKSHOP_WEBHOOK_TIMEOUT_SECONDS"
SECRET_VAR = "WORKSHOP_WEBHOOK_SECRET"
GOOD_SECRET = "whsec-7d1e0c9a5b3f"  # 18 characters
SHORT_SECRET = "whsec-too-short"  # 15 characters: one too few

VALIDATED_SETTING_STARTER = '''\
from workshop_app.config import Settings


class WebhookSettings(Settings):
    """The app's settings plus what the payment-webhook client needs."""

    # TODO: webhook_timeout_seconds: a float, default 5.0, greater than 0 and at most 30.
    webhook_timeout_seconds: float = 5.0
    # TODO: webhook_secret: hidden in repr, logs and dumps; no default; at least
    # 16 characters, with an error message that says so.
'''

VALIDATED_SETTING_SOLUTION = '''\
from pydantic import Field, SecretStr, field_validator

from workshop_app.config import Settings


class WebhookSettings(Settings):
    """The app's settings plus what the payment-webhook client needs."""

    webhook_timeout_seconds: float = Field(5.0, gt=0, le=30)
    webhook_secret: SecretStr  # no default: a missing variable stops the app at startup

    @field_validator("webhook_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("WORKSHOP_WEBHOOK_SECRET must be at least 16 characters long.")
        return value
'''


@contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """Exactly ``values`` as the ``WORKSHOP_*`` environment for the block, then the old one back.

    Hiding the learner's own ``WORKSHOP_*`` variables keeps the check independent of their
    shell (a ``WORKSHOP_ENVIRONMENT=production`` there would fail every build).
    """
    saved = {name: value for name, value in os.environ.items() if name.startswith(PREFIX)}
    try:
        for name in saved:
            del os.environ[name]
        os.environ.update(values)
        yield
    finally:
        for name in [name for name in os.environ if name.startswith(PREFIX)]:
            del os.environ[name]
        os.environ.update(saved)


def _build(cls: type[BaseSettings], values: Mapping[str, str]) -> BaseSettings:
    """Settings from exactly these variables; no ``.env`` file, as in a container."""
    with _environ(values):
        return cls(_env_file=None)


def _rejection(cls: type[BaseSettings], values: Mapping[str, str]) -> ValidationError | None:
    try:
        _build(cls, values)
    except ValidationError as exc:
        return exc
    return None


def _loc(item: Mapping[str, Any]) -> str:
    return ".".join(str(part) for part in item["loc"])


def _fields_in(error: ValidationError) -> set[str]:
    return {_loc(item) for item in error.errors()}


def _describe(error: ValidationError) -> str:
    return "; ".join(f"{_loc(item) or '(model)'}: {item['msg']}" for item in error.errors())


def _require_settings_class(candidate: Any) -> type[BaseSettings]:
    if isinstance(candidate, BaseModel):
        raise ExerciseFailed(
            "You passed an instance; pass the class itself: "
            "lab.check('01.validated_setting', WebhookSettings) - no parentheses."
        )
    if not isinstance(candidate, type):
        raise ExerciseFailed(
            f"Expected the class WebhookSettings, got {type(candidate).__name__} "
            f"({candidate!r:.60}). Define it with `class WebhookSettings(Settings):`."
        )
    if not issubclass(candidate, BaseSettings):
        base = "a plain BaseModel" if issubclass(candidate, BaseModel) else "not a settings class"
        raise ExerciseFailed(
            f"{candidate.__name__} is {base}, so it never reads environment variables. "
            "Subclass the app's Settings: `from workshop_app.config import Settings`."
        )
    for field in ("webhook_timeout_seconds", "webhook_secret"):
        if field not in candidate.model_fields:
            raise ExerciseFailed(
                f"{candidate.__name__} has no field `{field}`. "
                + (
                    "Declare `webhook_timeout_seconds: float` with a default of 5.0."
                    if field == "webhook_timeout_seconds"
                    else "Declare `webhook_secret` annotated `SecretStr`, with no default."
                )
            )
    return candidate


def _check_good_values(cls: type[BaseSettings]) -> None:
    values = {SECRET_VAR: GOOD_SECRET, TIMEOUT_VAR: "12.5"}
    try:
        settings = _build(cls, values)
    except ValidationError as exc:
        missing = {_loc(item) for item in exc.errors() if item["type"] == "missing"}
        if "webhook_secret" in missing:
            raise ExerciseFailed(
                f"{SECRET_VAR} was set but webhook_secret was reported missing: the class must "
                "read WORKSHOP_* variables. Inherit env_prefix from Settings; do not override it."
            ) from None
        advice = ""
        if "webhook_timeout_seconds" in _fields_in(exc):
            advice = " A timeout of 12.5 seconds is valid: annotate the field `float`."
        raise ExerciseFailed(
            f"Good values were rejected ({SECRET_VAR}=<{len(GOOD_SECRET)} characters>, "
            f"{TIMEOUT_VAR}=12.5): {_describe(exc)}.{advice}"
        ) from None
    timeout = settings.webhook_timeout_seconds
    if timeout != 12.5:
        raise ExerciseFailed(
            f"With {TIMEOUT_VAR}=12.5 the timeout is {timeout!r}: the variable was not read. "
            "Keep the WORKSHOP_ prefix by subclassing Settings, and name the field "
            "webhook_timeout_seconds."
        )
    if not isinstance(timeout, float):
        raise ExerciseFailed(f"The timeout is a {type(timeout).__name__}; annotate it `float`.")
    secret = settings.webhook_secret
    if not isinstance(secret, SecretStr):
        raise ExerciseFailed(
            f"webhook_secret is a {type(secret).__name__}, so repr(settings), logs and "
            "model_dump_json() print it in clear. Annotate it `SecretStr`."
        )
    if secret.get_secret_value() != GOOD_SECRET:
        raise ExerciseFailed(
            f"webhook_secret.get_secret_value() is not the value of {SECRET_VAR}: "
            "do not transform the secret in a validator; return it unchanged."
        )
    for label, text in (
        ("repr(settings)", repr(settings)),
        ("str(settings)", str(settings)),
        ("settings.model_dump_json()", settings.model_dump_json()),
    ):
        if GOOD_SECRET in text:
            raise ExerciseFailed(f"{label} shows the secret: keep it a SecretStr end to end.")


def _check_timeout_bounds(cls: type[BaseSettings]) -> None:
    try:
        default = _build(cls, {SECRET_VAR: GOOD_SECRET}).webhook_timeout_seconds
    except ValidationError as exc:
        raise ExerciseFailed(
            f"Without {TIMEOUT_VAR} the settings were rejected ({_describe(exc)}): "
            "give webhook_timeout_seconds a default of 5.0."
        ) from None
    if default != 5.0:
        raise ExerciseFailed(
            f"Without {TIMEOUT_VAR} the timeout is {default!r}; its default should be 5.0."
        )
    for raw in ("30", "0.5"):
        error = _rejection(cls, {SECRET_VAR: GOOD_SECRET, TIMEOUT_VAR: raw})
        if error is not None:
            raise ExerciseFailed(
                f"{TIMEOUT_VAR}={raw} was rejected, but it is allowed (greater than 0, at most "
                f"30): use gt=0 and le=30 (le: less than or equal). Error: {_describe(error)}"
            )
    for raw, why in (
        ("0", "a timeout of 0 would fail every call: require gt=0"),
        ("-1", "a negative timeout makes no sense: require gt=0"),
        ("30.5", "the limit is 30 seconds: require le=30"),
        ("soon", "it is not a number: annotate the field `float`"),
    ):
        error = _rejection(cls, {SECRET_VAR: GOOD_SECRET, TIMEOUT_VAR: raw})
        if error is None:
            raise ExerciseFailed(f"{TIMEOUT_VAR}={raw} was accepted, but {why}.")
        if "webhook_timeout_seconds" not in _fields_in(error):
            raise ExerciseFailed(
                f"{TIMEOUT_VAR}={raw} was rejected, but the error does not name "
                f"webhook_timeout_seconds ({_describe(error)}). Validate on the field "
                "(Field constraints or a field_validator), not in a model validator."
            )


def _check_secret_rules(cls: type[BaseSettings]) -> None:
    error = _rejection(cls, {})
    if error is None or "webhook_secret" not in _fields_in(error):
        raise ExerciseFailed(
            f"Without {SECRET_VAR} the settings were accepted. Give webhook_secret no default, "
            "so a missing or misspelled variable stops the app at startup."
        )
    error = _rejection(cls, {SECRET_VAR: SHORT_SECRET})
    if error is None:
        raise ExerciseFailed(
            f"A {len(SHORT_SECRET)}-character {SECRET_VAR} was accepted: require at least 16 "
            "characters, with a field_validator (or Field(min_length=16))."
        )
    if "webhook_secret" not in _fields_in(error):
        raise ExerciseFailed(
            f"A short secret was rejected, but the error does not name webhook_secret "
            f"({_describe(error)}). Validate on the field, with a field_validator."
        )
    if SHORT_SECRET in str(error):
        raise ExerciseFailed(
            "The ValidationError for a short secret prints the secret itself. Keep "
            "hide_input_in_errors=True (inherit it from Settings) and do not put the value "
            "in your message."
        )
    if "16" not in _describe(error):
        raise ExerciseFailed(
            f"A short secret was rejected with '{_describe(error)}': say how long it must be "
            "(16 characters), so whoever sets the variable knows what to fix."
        )
    exact = _rejection(cls, {SECRET_VAR: "x" * 16})
    if exact is not None:
        raise ExerciseFailed(
            f"A secret of exactly 16 characters was rejected ({_describe(exact)}): "
            "16 is the minimum, so 16 characters must pass (compare with `< 16`)."
        )


async def verify_validated_setting(candidate: Any) -> None:
    cls = _require_settings_class(candidate)
    _check_good_values(cls)
    _check_timeout_bounds(cls)
    _check_secret_rules(cls)


EXERCISES = (
    Exercise(
        id="01.validated_setting",
        notebook_id=NOTEBOOK_ID,
        title="A validated setting",
        instructions=(
            "Write WebhookSettings, a subclass of the app's Settings with two fields read from "
            "the environment: webhook_timeout_seconds (WORKSHOP_WEBHOOK_TIMEOUT_SECONDS), a float "
            "with default 5.0, greater than 0 and at most 30; and webhook_secret "
            "(WORKSHOP_WEBHOOK_SECRET), a secret hidden in repr, logs and dumps, with no "
            "default, at least 16 characters, rejected with a message that says so."
        ),
        starter=VALIDATED_SETTING_STARTER,
        solution=VALIDATED_SETTING_SOLUTION,
        name="WebhookSettings",
        verify=verify_validated_setting,
        success="Good values parse, bad ones are refused by name, and the secret stays hidden.",
    ),
)
