"""Sending email behind one small interface, so no test or notebook talks to a mail server.

Production plugs in a client for its provider (SMTP, an HTTP API) as ``app.state.mailer``;
everything else uses ``MemoryMailer``, a mailbox in a list. The outbox table, not the
mailer, is the record of what was owed and what went out.
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    async def send(self, message: Message) -> None:
        """Deliver ``message`` or raise; the caller records which."""
        ...


class MemoryMailer:
    """Keeps every message it is given in ``sent``: the development and test mailbox."""

    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def send(self, message: Message) -> None:
        self.sent.append(message)
