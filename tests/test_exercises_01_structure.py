"""Exercise 01.validated_setting: each likely mistake gets its own hint, other correct styles
pass, the learner's environment is left as it was, and every check is quick."""

import os
import time

import exercise_helpers
import pytest
from pydantic import BaseModel

from workshop_app.config import Settings
from workshop_lab.exercises import _check, check, get_exercise, hint
from workshop_lab.exercises.ex01_structure import GOOD_SECRET, SECRET_VAR, TIMEOUT_VAR

EXERCISE = get_exercise("01.validated_setting")
SOLUTION = EXERCISE.solution

progress_file = exercise_helpers.progress_file  # autouse: checks record progress


def _variant(*replacements: tuple[str, str]) -> type:
    """The reference solution with one mistake written into it."""
    source = SOLUTION
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    return EXERCISE.load(source)


PREFIX = 'env_prefix="WORKSHOP_WEBHOOK_",'
FROZEN = "frozen=True,"
HIDDEN = "hide_input_in_errors=True,"
TIMEOUT_FIELD = "Field(5.0, gt=0, le=30)"
SECRET_FIELD = "    secret: SecretStr  #"
CHECK_LENGTH = "if len(value.get_secret_value()) < 16:"
MESSAGE = '"WORKSHOP_WEBHOOK_SECRET must be at least 16 characters long."'


class PlainModel(BaseModel):
    timeout_seconds: float = 5.0


class NotSettings:
    pass


CASES = {
    "instance": (lambda: Settings(), "pass the class itself"),
    "none": (lambda: None, "Expected the class WebhookSettings, got NoneType"),
    "base-model": (lambda: PlainModel, "PlainModel is a plain BaseModel"),
    "plain-class": (lambda: NotSettings, "not a settings class"),
    "starter": (
        lambda: EXERCISE.load(EXERCISE.starter),
        "WebhookSettings has no field `secret`: declare the webhook's signing secret",
    ),
    "no-timeout": (
        lambda: _variant((f"    timeout_seconds: float = {TIMEOUT_FIELD}\n", "")),
        "has no field `timeout_seconds`: declare the call timeout",
    ),
    "fields-named-after-the-prefix": (
        lambda: _variant(
            (PREFIX, 'env_prefix="WORKSHOP_",'),
            ("    timeout_seconds:", "    webhook_timeout_seconds:"),
            ("    secret:", "    webhook_secret:"),
            ('@field_validator("secret")', '@field_validator("webhook_secret")'),
        ),
        "has a field `webhook_timeout_seconds` but no `timeout_seconds`",
    ),
    "no-prefix": (
        lambda: _variant((PREFIX, "")),
        f"{SECRET_VAR} was set, but WebhookSettings did not read it: the class has no env "
        "prefix, so it reads SECRET instead",
    ),
    "prefix-without-underscore": (
        lambda: _variant((PREFIX, 'env_prefix="WORKSHOP_WEBHOOK",')),
        "glues the prefix to the field name as it is, so it reads WORKSHOP_WEBHOOKSECRET. "
        "End the prefix with an underscore.",
    ),
    "other-prefix": (
        lambda: _variant((PREFIX, 'env_prefix="WEBHOOK_",')),
        "its env prefix is 'WEBHOOK_'; the variables start with WORKSHOP_WEBHOOK_",
    ),
    "secret-is-str": (
        lambda: _variant(
            (SECRET_FIELD, "    secret: str  #"),
            ("value: SecretStr) -> SecretStr", "value: str) -> str"),
            ("value.get_secret_value()", "value"),
        ),
        "secret is a str, so repr(settings), logs and model_dump_json() print it in clear",
    ),
    "timeout-int": (
        lambda: _variant((f"float = {TIMEOUT_FIELD}", "int = Field(5, gt=0, le=30)")),
        f"Good values were rejected ({SECRET_VAR}=<18 characters>, {TIMEOUT_VAR}=12.5): "
        "timeout_seconds: Input should be a valid integer, unable to parse string as an "
        "integer. A timeout of 12.5 seconds is valid: the field's type must accept fractions.",
    ),
    "timeout-no-default": (
        lambda: _variant((TIMEOUT_FIELD, "Field(gt=0, le=30)")),
        "the timeout needs a default of 5.0",
    ),
    "timeout-other-default": (
        lambda: _variant((TIMEOUT_FIELD, "Field(10.0, gt=0, le=30)")),
        "the timeout is 10.0; its default should be 5.0",
    ),
    "timeout-unbounded": (
        lambda: _variant((TIMEOUT_FIELD, "5.0")),
        f"{TIMEOUT_VAR}=0 was accepted",
    ),
    "timeout-ge-zero": (
        lambda: _variant((TIMEOUT_FIELD, "Field(5.0, ge=0, le=30)")),
        "=0 was accepted, but a timeout of 0 would fail every call: the timeout must be "
        "greater than 0",
    ),
    "timeout-lt-30": (
        lambda: _variant((TIMEOUT_FIELD, "Field(5.0, gt=0, lt=30)")),
        "=30 was rejected, but 30 itself is allowed: the maximum is inclusive",
    ),
    "timeout-no-maximum": (
        lambda: _variant((TIMEOUT_FIELD, "Field(5.0, gt=0)")),
        "=30.5 was accepted, but the limit is 30 seconds",
    ),
    "timeout-checked-in-model-validator": (
        lambda: _variant(
            (TIMEOUT_FIELD, "5.0"),
            ("from pydantic import Field,", "from pydantic import model_validator,"),
            (
                "    @field_validator",
                "    @model_validator(mode='after')\n"
                "    def _bounds(self):\n"
                "        if not 0 < self.timeout_seconds <= 30:\n"
                "            raise ValueError('bad timeout')\n"
                "        return self\n\n"
                "    @field_validator",
            ),
        ),
        "the error does not name timeout_seconds ((model): Value error, bad timeout)",
    ),
    "secret-has-default": (
        lambda: _variant((SECRET_FIELD, '    secret: SecretStr = SecretStr("x" * 16)  #')),
        f"Without {SECRET_VAR} the settings were accepted",
    ),
    "secret-any-length": (
        lambda: _variant((CHECK_LENGTH, "if False:")),
        f"A 15-character {SECRET_VAR} was accepted",
    ),
    "secret-off-by-one": (
        lambda: _variant((CHECK_LENGTH, "if len(value.get_secret_value()) <= 16:")),
        "exactly 16 characters was rejected",
    ),
    "secret-vague-message": (
        lambda: _variant(("at least 16 characters long.", "longer.")),
        "say how long it must be (16 characters)",
    ),
    "secret-echoed-by-pydantic": (
        lambda: _variant((HIDDEN, "")),
        "prints the secret itself",
    ),
    "secret-echoed-by-the-message": (
        lambda: _variant((MESSAGE, 'f"{value.get_secret_value()} is shorter than 16."')),
        "prints the secret itself",
    ),
    "secret-transformed": (
        lambda: _variant(
            (
                "        return value\n",
                "        return SecretStr(value.get_secret_value().upper())\n",
            )
        ),
        "a validator that checks the secret must return it unchanged",
    ),
    "secret-checked-in-model-validator": (
        lambda: _variant(
            ("from pydantic import Field,", "from pydantic import model_validator, Field,"),
            ('@field_validator("secret")\n    @classmethod', "@model_validator(mode='after')"),
            ("cls, value: SecretStr) -> SecretStr:", "self):"),
            ("value.get_secret_value()", "self.secret.get_secret_value()"),
            ("        return value\n", "        return self\n"),
        ),
        "does not name the field secret",
    ),
    "not-frozen": (
        lambda: _variant((FROZEN, "")),
        "settings.timeout_seconds = 1.0 succeeded",
    ),
}


@pytest.mark.parametrize(("make", "fragment"), CASES.values(), ids=CASES.keys())
def test_each_mistake_gets_a_specific_hint(make, fragment: str) -> None:
    started = time.perf_counter()
    result = check(EXERCISE.id, make())
    assert time.perf_counter() - started < 3
    assert result.passed is False
    assert fragment in result.hint, result.hint
    assert "raised" not in result.hint  # a mistake, explained; not a crash report
    for code in ("gt=0", "le=30", "SettingsConfigDict(", "@field_validator", "env_prefix="):
        assert code not in result.hint  # the hint names the mistake, not the answer's code


ANNOTATED_STYLE = """\
from typing import Annotated

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings


class WebhookSettings(BaseSettings):
    model_config = {
        "env_prefix": "workshop_webhook_",  # matching is case-insensitive
        "frozen": True,
        "hide_input_in_errors": True,
    }

    secret: Annotated[SecretStr, Field(min_length=16)]
    timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 5.0
"""

SUBCLASS_OF_THE_APP_SETTINGS = """\
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from workshop_app.config import Settings


class WebhookSettings(Settings):
    model_config = SettingsConfigDict(env_prefix="WORKSHOP_WEBHOOK_")  # the rest is inherited

    timeout_seconds: float = Field(default=5.0, gt=0.0, le=30.0)
    secret: SecretStr

    @field_validator("secret")
    @classmethod
    def _at_least_16(cls, value: SecretStr) -> SecretStr:
        if len(value) < 16:  # a SecretStr has a length
            raise ValueError("need 16 characters or more")
        return value
"""


@pytest.mark.parametrize(
    "source",
    [ANNOTATED_STYLE, SUBCLASS_OF_THE_APP_SETTINGS],
    ids=["annotated-min-length-dict-config", "subclass-of-the-app-settings"],
)
def test_other_correct_styles_pass(source: str) -> None:
    started = time.perf_counter()
    result = check(EXERCISE.id, EXERCISE.load(source))
    assert time.perf_counter() - started < 3
    assert result.passed is True, result.hint


def test_the_learners_own_environment_neither_disturbs_the_check_nor_is_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRET_VAR, "from-the-learners-shell")  # would hide a missing default
    monkeypatch.setenv(TIMEOUT_VAR, "99")  # out of bounds: would fail every build
    before = dict(os.environ)

    result = check(EXERCISE.id, _variant((SECRET_FIELD, '    secret: SecretStr = "x" * 16  #')))
    assert result.passed is False and "the settings were accepted" in result.hint
    result = check(EXERCISE.id, EXERCISE.load(SOLUTION))

    assert result.passed is True, result.hint
    assert dict(os.environ) == before
    assert GOOD_SECRET not in os.environ.values()


def test_the_environment_is_restored_when_the_candidate_crashes() -> None:
    before = dict(os.environ)
    crashing = _variant(("        return value\n", "        raise RuntimeError('boom')\n"))
    result = check(EXERCISE.id, crashing)
    assert result.passed is False and "RuntimeError" in result.hint
    assert dict(os.environ) == before


def test_hints_come_one_at_a_time_and_give_no_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_check, "_hints_given", {})  # as in a fresh kernel
    steps = [hint(EXERCISE.id).text for _ in range(3)]
    assert steps[0].startswith("Hint 1 of 3 for 01.validated_setting: Three things")
    assert "'`config.py`, step 1: typed fields from the environment'" in steps[1]
    assert "'Step 2: validators that name the variable'" in steps[1]
    assert steps[2].endswith('lab.solution("01.validated_setting").')
    for code in ("env_prefix", "frozen=", "Field(", "SecretStr", "field_validator"):
        assert code not in steps[0]


def test_the_starters_hint_is_what_the_notebook_shows_first() -> None:
    result = check(EXERCISE.id, EXERCISE.load(EXERCISE.starter))
    assert repr(result).splitlines() == [
        "\u2717 FAILED  01.validated_setting: A validated settings class",
        "Hint: WebhookSettings has no field `secret`: declare the webhook's signing secret, "
        'with no default. Stuck? lab.hint("01.validated_setting") gives a hint, one step at '
        "a time.",
    ]
