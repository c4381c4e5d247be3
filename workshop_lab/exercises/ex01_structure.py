"""Exercises of notebook 01 (structure and settings): a validated settings class of one's own.

The learner writes ``WebhookSettings``, the settings group of a payment-webhook client, the way
``config.py`` is written: its own env prefix, typed and bounded fields, a secret, a validator
with a message that says what to fix. The check sets real ``WORKSHOP_*`` environment variables
(and puts the learner's back), because that is how settings meet their values: a field that is
declared but never read from the environment is exactly the bug this exercise is about.
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
ENV_PREFIX = "WORKSHOP_WEBHOOK_"
TIMEOUT_VAR = "WORKSHOP_WEBHOOK_TIMEOUT_SECONDS"
SECRET_VAR = "WORKSHOP_WEBHOOK_SECRET"
FIELDS = ("timeout_seconds", "secret")
GOOD_SECRET = "whsec-7d1e0c9a5b3f"  # 18 characters
SHORT_SECRET = "whsec-too-short"  # 15 characters: one too few
MINIMUM = 16

VALIDATED_SETTINGS_STARTER = '''\
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    """What the payment-webhook client needs, read from WORKSHOP_WEBHOOK_* variables."""

    # TODO: read WORKSHOP_WEBHOOK_* variables; one shared instance that nobody can change;
    # a rejected value is never echoed in the error.
    model_config = SettingsConfigDict()

    # TODO: a float, default 5.0, greater than 0 and at most 30.
    timeout_seconds: float = 5.0

    # TODO: secret: hidden in repr, logs and dumps; no default; at least 16 characters,
    # rejected with a message that says how long it must be.
'''

VALIDATED_SETTINGS_SOLUTION = '''\
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    """What the payment-webhook client needs, read from WORKSHOP_WEBHOOK_* variables."""

    model_config = SettingsConfigDict(
        env_prefix="WORKSHOP_WEBHOOK_",
        frozen=True,  # one instance, shared: nobody may change it under everyone else
        hide_input_in_errors=True,  # a rejected secret must not be echoed
    )

    timeout_seconds: float = Field(5.0, gt=0, le=30)
    secret: SecretStr  # no default: a missing variable stops the app at startup

    @field_validator("secret")
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
    shell (a ``WORKSHOP_WEBHOOK_SECRET`` set there would hide a missing-default mistake).
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


def _prefix_of(cls: type[BaseSettings]) -> str:
    return str(cls.model_config.get("env_prefix") or "")


def _require_settings_class(candidate: Any) -> type[BaseSettings]:
    if isinstance(candidate, BaseModel):
        raise ExerciseFailed(
            "You passed an instance; pass the class itself: "
            'lab.check("01.validated_setting", WebhookSettings), with no parentheses.'
        )
    if not isinstance(candidate, type):
        raise ExerciseFailed(
            f"Expected the class WebhookSettings, got {type(candidate).__name__} "
            f"({candidate!r:.60}). Run the cell that defines it, then pass the class."
        )
    if not issubclass(candidate, BaseSettings):
        base = "a plain BaseModel" if issubclass(candidate, BaseModel) else "not a settings class"
        raise ExerciseFailed(
            f"{candidate.__name__} is {base}, so it never reads environment variables. "
            "Derive it from pydantic-settings' BaseSettings, as config.py's Settings is."
        )
    for field in FIELDS:
        if field in candidate.model_fields:
            continue
        prefixed = f"webhook_{field}"
        if prefixed in candidate.model_fields:
            raise ExerciseFailed(
                f"{candidate.__name__} has a field `{prefixed}` but no `{field}`. The prefix "
                f"{ENV_PREFIX} already says 'webhook': the code reads settings.{field}, and the "
                f"variable is {ENV_PREFIX}{field.upper()}."
            )
        what = (
            "the call timeout, in seconds, with a default of 5.0"
            if field == "timeout_seconds"
            else "the webhook's signing secret, with no default"
        )
        raise ExerciseFailed(f"{candidate.__name__} has no field `{field}`: declare {what}.")
    return candidate


def _not_read_hint(cls: type[BaseSettings], variable: str) -> str:
    prefix = _prefix_of(cls)
    if not prefix:
        why = (
            f"the class has no env prefix, so it reads {variable.removeprefix(ENV_PREFIX)} "
            f"instead. Set the prefix {ENV_PREFIX} in its model config."
        )
    elif prefix.upper() == ENV_PREFIX.rstrip("_"):
        why = (
            f"its env prefix is {prefix!r}, and pydantic-settings glues the prefix to the field "
            f"name as it is, so it reads {prefix.upper()}{variable.removeprefix(ENV_PREFIX)}. "
            "End the prefix with an underscore."
        )
    else:
        why = f"its env prefix is {prefix!r}; the variables start with {ENV_PREFIX}."
    return f"{variable} was set, but {cls.__name__} did not read it: {why}"


def _check_good_values(cls: type[BaseSettings]) -> BaseSettings:
    values = {SECRET_VAR: GOOD_SECRET, TIMEOUT_VAR: "12.5"}
    try:
        settings = _build(cls, values)
    except ValidationError as exc:
        missing = {_loc(item) for item in exc.errors() if item["type"] == "missing"}
        if "secret" in missing:
            raise ExerciseFailed(_not_read_hint(cls, SECRET_VAR)) from None
        advice = ""
        if "timeout_seconds" in _fields_in(exc):
            advice = " A timeout of 12.5 seconds is valid: the field's type must accept fractions."
        raise ExerciseFailed(
            f"Good values were rejected ({SECRET_VAR}=<{len(GOOD_SECRET)} characters>, "
            f"{TIMEOUT_VAR}=12.5): {_describe(exc)}.{advice}"
        ) from None
    timeout = settings.timeout_seconds
    if timeout != 12.5:
        raise ExerciseFailed(
            f"With {TIMEOUT_VAR}=12.5 the timeout is {timeout!r}. "
            + _not_read_hint(cls, TIMEOUT_VAR)
        )
    if not isinstance(timeout, float):
        raise ExerciseFailed(
            f"The timeout is a {type(timeout).__name__}: declare the field as a float."
        )
    secret = settings.secret
    if not isinstance(secret, SecretStr):
        raise ExerciseFailed(
            f"secret is a {type(secret).__name__}, so repr(settings), logs and "
            "model_dump_json() print it in clear. Give it the type that masks its value."
        )
    if secret.get_secret_value() != GOOD_SECRET:
        raise ExerciseFailed(
            f"secret.get_secret_value() is not the value of {SECRET_VAR}: a validator that "
            "checks the secret must return it unchanged."
        )
    for label, text in (
        ("repr(settings)", repr(settings)),
        ("str(settings)", str(settings)),
        ("settings.model_dump_json()", settings.model_dump_json()),
    ):
        if GOOD_SECRET in text:
            raise ExerciseFailed(f"{label} shows the secret: keep it a SecretStr end to end.")
    return settings


def _check_frozen(settings: BaseSettings) -> None:
    try:
        settings.timeout_seconds = 1.0
    except ValidationError:
        return
    except (AttributeError, TypeError):  # a custom __setattr__ that refuses: also frozen
        return
    raise ExerciseFailed(
        "settings.timeout_seconds = 1.0 succeeded: one settings object is shared by the whole "
        "process, so any module could change it under every other. Make the instances frozen, "
        "as config.py's Settings are."
    )


def _check_timeout_bounds(cls: type[BaseSettings]) -> None:
    try:
        default = _build(cls, {SECRET_VAR: GOOD_SECRET}).timeout_seconds
    except ValidationError as exc:
        raise ExerciseFailed(
            f"Without {TIMEOUT_VAR} the settings were rejected ({_describe(exc)}): "
            "the timeout needs a default of 5.0."
        ) from None
    if default != 5.0:
        raise ExerciseFailed(
            f"Without {TIMEOUT_VAR} the timeout is {default!r}; its default should be 5.0."
        )
    for raw, why in (
        ("30", "30 itself is allowed: the maximum is inclusive"),
        ("0.5", "any positive timeout up to 30 is allowed"),
    ):
        error = _rejection(cls, {SECRET_VAR: GOOD_SECRET, TIMEOUT_VAR: raw})
        if error is not None:
            raise ExerciseFailed(
                f"{TIMEOUT_VAR}={raw} was rejected, but {why} ({_describe(error)})."
            )
    for raw, why in (
        ("0", "a timeout of 0 would fail every call: the timeout must be greater than 0"),
        ("-1", "a negative timeout makes no sense: the timeout must be greater than 0"),
        ("30.5", "the limit is 30 seconds"),
        ("soon", "it is not a number"),
    ):
        error = _rejection(cls, {SECRET_VAR: GOOD_SECRET, TIMEOUT_VAR: raw})
        if error is None:
            raise ExerciseFailed(f"{TIMEOUT_VAR}={raw} was accepted, but {why}.")
        if "timeout_seconds" not in _fields_in(error):
            raise ExerciseFailed(
                f"{TIMEOUT_VAR}={raw} was rejected, but the error does not name "
                f"timeout_seconds ({_describe(error)}), so whoever reads it does not know "
                "which variable to fix. Put the limits on the field itself, not in a model "
                "validator."
            )


def _check_secret_rules(cls: type[BaseSettings]) -> None:
    error = _rejection(cls, {})
    if error is None or "secret" not in _fields_in(error):
        raise ExerciseFailed(
            f"Without {SECRET_VAR} the settings were accepted. Give the secret no default, "
            "so a missing or misspelled variable stops the app at startup."
        )
    error = _rejection(cls, {SECRET_VAR: SHORT_SECRET})
    if error is None:
        raise ExerciseFailed(
            f"A {len(SHORT_SECRET)}-character {SECRET_VAR} was accepted: require at least "
            f"{MINIMUM} characters."
        )
    if "secret" not in _fields_in(error):
        raise ExerciseFailed(
            f"A short secret was rejected, but the error does not name the field secret "
            f"({_describe(error)}). Check the length on the field, not in a model validator."
        )
    if SHORT_SECRET in str(error):
        raise ExerciseFailed(
            "The ValidationError for a short secret prints the secret itself, and errors end "
            "up in logs. Hide rejected input in errors (config.py's Settings does, in its "
            "model config), and do not put the value in your message."
        )
    if str(MINIMUM) not in _describe(error):
        raise ExerciseFailed(
            f"A short secret was rejected with '{_describe(error)}': say how long it must be "
            f"({MINIMUM} characters), so whoever sets the variable knows what to fix."
        )
    exact = _rejection(cls, {SECRET_VAR: "x" * MINIMUM})
    if exact is not None:
        raise ExerciseFailed(
            f"A secret of exactly {MINIMUM} characters was rejected ({_describe(exact)}): "
            f"{MINIMUM} is the minimum, so {MINIMUM} characters must pass."
        )


async def verify_validated_settings(candidate: Any) -> None:
    cls = _require_settings_class(candidate)
    settings = _check_good_values(cls)
    _check_timeout_bounds(cls)
    _check_secret_rules(cls)
    _check_frozen(settings)


EXERCISES = (
    Exercise(
        id="01.validated_setting",
        notebook_id=NOTEBOOK_ID,
        title="A validated settings class",
        instructions=(
            "Write WebhookSettings, the settings of a payment-webhook client, read from "
            "WORKSHOP_WEBHOOK_* variables: timeout_seconds (WORKSHOP_WEBHOOK_TIMEOUT_SECONDS), "
            "a float with default 5.0, greater than 0 and at most 30; secret "
            "(WORKSHOP_WEBHOOK_SECRET), hidden in repr, logs and dumps, with no default, at "
            "least 16 characters, rejected with a message that says so and never echoes it. "
            "Instances are frozen."
        ),
        starter=VALIDATED_SETTINGS_STARTER,
        solution=VALIDATED_SETTINGS_SOLUTION,
        name="WebhookSettings",
        verify=verify_validated_settings,
        success=(
            "Good values parse, bad ones are refused under their field, the secret stays "
            "hidden, and the instance cannot be changed."
        ),
        hints=(
            "Three things are configuration of the class itself (where its variables come "
            "from, whether an instance can change, whether a rejected value may appear in an "
            "error); limits on a number go with the field's declaration; a rule like a "
            "minimum length with your own message is a small function that pydantic runs on "
            "the value.",
            "The section '`config.py`, step 1: typed fields from the environment' shows the "
            "model config and a secret field; 'Step 2: validators that name the variable' "
            "shows a field validator raising ValueError with its own message.",
        ),
    ),
)
