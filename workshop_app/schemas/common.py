"""Shapes shared by the request and response models."""

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, StrictBool


def _json_integer(value: object) -> object:
    """Accept what JSON Schema calls an integer (3 or 3.0); refuse ``true`` and ``"3"``.

    Pydantic's lax mode would turn both into numbers, so the API would accept input its
    own OpenAPI document forbids; strict mode would refuse 3.0, which the document allows.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Input should be a whole number")
    return value


WholeNumber = Annotated[int, BeforeValidator(_json_integer)]
# JSON `true`/`false` only: lax mode would also take 0, 1, "yes" and "off".
JsonBool = StrictBool

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list, with the total so a client knows how many pages there are."""

    items: list[ItemT]
    total: int
    limit: int
    offset: int
