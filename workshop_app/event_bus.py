"""An in-process event bus: subscribers register per event type, ``publish`` runs them.

Each handler runs in its own ``try``: one that raises is logged and reported back, and
neither stops the handlers after it nor reaches the caller. ``publish`` returns the
handlers that failed (name -> error), so the relay can retry exactly those and no
handler that succeeded runs twice. Handlers run one after the other, in the order they
subscribed: predictable, and a slow handler delays only the events behind it.
Nothing here knows about HTTP or the database.
"""

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from workshop_app.events import DomainEvent
from workshop_app.logging_config import describe_error, log_failure

logger = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subscription:
    event_type: type[DomainEvent]
    handler: Handler
    name: str


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []

    def subscribe(
        self, event_type: type[DomainEvent], handler: Handler, name: str | None = None
    ) -> str:
        """Run ``handler`` for every published ``event_type`` (subclasses included).

        The name (default: the function's name) is what a stored event keeps in
        ``failed_handlers``, so it must be unique and stay the same across restarts.
        """
        name = name or getattr(handler, "__name__", type(handler).__name__)
        if any(subscription.name == name for subscription in self._subscriptions):
            raise ValueError(f"A handler named {name!r} is already subscribed.")
        self._subscriptions.append(Subscription(event_type, handler, name))
        return name

    def handler_names(self, event_type: type[DomainEvent]) -> list[str]:
        """The names of the handlers an event of ``event_type`` goes to, in order."""
        return [s.name for s in self._subscriptions if issubclass(event_type, s.event_type)]

    async def publish(
        self, event: DomainEvent, *, only: Collection[str] | None = None
    ) -> dict[str, str]:
        """Run the handlers of ``event`` (or only those named in ``only``); return the
        ones that raised, name -> ``"ErrorType: message"``. Never raises for a handler."""
        failures: dict[str, str] = {}
        for subscription in self._subscriptions:
            if not isinstance(event, subscription.event_type):
                continue
            if only is not None and subscription.name not in only:
                continue
            try:
                await subscription.handler(event)
            except Exception as exc:
                failures[subscription.name] = describe_error(exc)
                log_failure(
                    logger,
                    exc,
                    "Handler %s failed for %s %s",
                    subscription.name,
                    event.name,
                    event.event_id,
                    handler=subscription.name,
                    event=event.name,
                    event_id=str(event.event_id),
                )
        return failures
