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
    # Sent again after a crash lost the outcome, a message keeps its key, so a provider
    # that honours idempotency keys delivers it once.
    idempotency_key: str | None = None


class Mailer(Protocol):
    async def send(self, message: Message) -> None:
        """Deliver ``message`` or raise; the caller records which."""
        ...


class MemoryMailer:
    """The development and test mailbox: every message delivered is in ``sent``. Like a
    provider, it delivers a message once per idempotency key; ``repeats`` counts the rest."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.repeats = 0
        self._keys: set[str] = set()

    async def send(self, message: Message) -> None:
        if message.idempotency_key is not None:
            if message.idempotency_key in self._keys:
                self.repeats += 1
                return
            self._keys.add(message.idempotency_key)
        self.sent.append(message)
