"""Exercise 01.validated_setting: each likely mistake gets its own hint; the env is restored."""

import os

import exercise_helpers
import pytest
from pydantic import BaseModel

from workshop_app.config import Settings
from workshop_lab.exercises import check, get_exercise
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


TIMEOUT_FIELD = "Field(5.0, gt=0, le=30)"
SECRET_FIELD = "webhook_secret: SecretStr  #"
CHECK_LENGTH = "if len(value.get_secret_value()) < 16:"


class PlainModel(BaseModel):
    webhook_timeout_seconds: float = 5.0


class NotSettings:
    pass


CASES = {
    "instance": (lambda: Settings(), "pass the class itself"),
    "none": (lambda: None, "Expected the class WebhookSettings, got NoneType"),
    "base-model": (lambda: PlainModel, "PlainModel is a plain BaseModel"),
    "plain-class": (lambda: NotSettings, "not a settings class"),
    "starter": (
        lambda: EXERCISE.load(EXERCISE.starter),
        "has no field `webhook_secret`. Declare `webhook_secret` annotated `SecretStr`",
    ),
    "no-timeout": (
        lambda: _variant((f"    webhook_timeout_seconds: float = {TIMEOUT_FIELD}\n", "")),
        "has no field `webhook_timeout_seconds`",
    ),
    "secret-is-str": (
        lambda: _variant(
            (SECRET_FIELD, "webhook_secret: str  #"),
            ("value: SecretStr) -> SecretStr", "value: str) -> str"),
            ("value.get_secret_value()", "value"),
        ),
        "webhook_secret is a str, so repr(settings)",
    ),
    "other-prefix": (
        lambda: _variant(
            (
                "    webhook_timeout_seconds",
                '    model_config = {"env_prefix": "WEBHOOK_"}\n\n    webhook_timeout_seconds',
            )
        ),
        "must read WORKSHOP_* variables",
    ),
    "timeout-int": (
        lambda: _variant((f"float = {TIMEOUT_FIELD}", "int = Field(5, gt=0, le=30)")),
        f"Good values were rejected ({SECRET_VAR}=<18 characters>, {TIMEOUT_VAR}=12.5): "
        "webhook_timeout_seconds: Input should be a valid integer, unable to parse string as an "
        "integer. A timeout of 12.5 seconds is valid: annotate the field `float`.",
    ),
    "timeout-no-default": (
        lambda: _variant((TIMEOUT_FIELD, "Field(gt=0, le=30)")),
        "give webhook_timeout_seconds a default of 5.0",
    ),
    "timeout-other-default": (
        lambda: _variant((TIMEOUT_FIELD, "Field(10.0, gt=0, le=30)")),
        "the timeout is 10.0; its default should be 5.0",
    ),
    "timeout-unbounded": (lambda: _variant((TIMEOUT_FIELD, "5.0")), "=0 was accepted"),
    "timeout-ge-zero": (
        lambda: _variant((TIMEOUT_FIELD, "Field(5.0, ge=0, le=30)")),
        "=0 was accepted, but a timeout of 0 would fail every call: require gt=0",
    ),
    "timeout-lt-30": (
        lambda: _variant((TIMEOUT_FIELD, "Field(5.0, gt=0, lt=30)")),
        "=30 was rejected, but it is allowed",
    ),
    "timeout-no-maximum": (
        lambda: _variant((TIMEOUT_FIELD, "Field(5.0, gt=0)")),
        "=30.5 was accepted, but the limit is 30 seconds: require le=30",
    ),
    "timeout-checked-in-model-validator": (
        lambda: _variant(
            (TIMEOUT_FIELD, "5.0"),
            ("from pydantic import Field,", "from pydantic import model_validator,"),
            (
                "    @field_validator",
                "    @model_validator(mode='after')\n"
                "    def _bounds(self):\n"
                "        if not 0 < self.webhook_timeout_seconds <= 30:\n"
                "            raise ValueError('bad timeout')\n"
                "        return self\n\n"
                "    @field_validator",
            ),
        ),
        "the error does not name webhook_timeout_seconds ((model): Value error, bad timeout)",
    ),
    "secret-has-default": (
        lambda: _variant((SECRET_FIELD, 'webhook_secret: SecretStr = SecretStr("x" * 16)  #')),
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
    "secret-echoed-in-error": (
        lambda: _variant(
            (
                "    webhook_timeout_seconds",
                '    model_config = {"hide_input_in_errors": False}\n\n    webhook_timeout_seconds',
            ),
        ),
        "prints the secret itself",
    ),
    "secret-transformed": (
        lambda: _variant(
            (
                "        return value\n",
                "        return SecretStr(value.get_secret_value().upper())\n",
            )
        ),
        "do not transform the secret",
    ),
}


@pytest.mark.parametrize(("make", "hint"), CASES.values(), ids=CASES.keys())
def test_each_mistake_gets_a_specific_hint(make, hint: str) -> None:
    result = check(EXERCISE.id, make())
    assert result.passed is False
    assert hint in result.hint, result.hint
    assert "raised" not in result.hint  # a mistake, explained; not a crash report


def test_field_min_length_is_an_accepted_way_to_require_length() -> None:
    with_field = _variant(
        (SECRET_FIELD, "webhook_secret: SecretStr = Field(min_length=16)  #"),
        (CHECK_LENGTH, "if False:"),
    )
    assert check(EXERCISE.id, with_field).passed is True


def test_the_learners_own_environment_neither_disturbs_the_check_nor_is_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WORKSHOP_ENVIRONMENT", "production")  # would fail every build
    monkeypatch.setenv(SECRET_VAR, "from-the-learners-shell")
    monkeypatch.delenv(TIMEOUT_VAR, raising=False)
    before = dict(os.environ)

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


def test_the_starters_hint_is_what_the_notebook_shows_first() -> None:
    result = check(EXERCISE.id, EXERCISE.load(EXERCISE.starter))
    assert repr(result).splitlines() == [
        "\u2717 FAILED  01.validated_setting: A validated setting",
        "Hint: WebhookSettings has no field `webhook_secret`. "
        "Declare `webhook_secret` annotated `SecretStr`, with no default.",
    ]
