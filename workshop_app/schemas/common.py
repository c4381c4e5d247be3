"""Shapes shared by every list endpoint."""

from typing import Generic, TypeVar

from pydantic import BaseModel

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list, with the total so a client knows how many pages there are."""

    items: list[ItemT]
    total: int
    limit: int
    offset: int
