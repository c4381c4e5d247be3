"""The app as tests/test_scale_out.py serves it: several processes of it, on one database
and one store, each writing every email it sends and every event it handles to one shared
file, so the test can count deliveries across processes. Served with::

    uvicorn scale_out_app:create_app --factory --app-dir tests

``SCALE_OUT_LOG`` names the file; ``SCALE_OUT_MAIL_DELAY`` slows each send down (seconds).
"""

import asyncio
import json
import os
from typing import Any

from workshop_app import lifespan
from workshop_app.events import DomainEvent
from workshop_app.mail import Message
from workshop_app.main import create_app as create_workshop_app


def append(record: dict[str, Any]) -> None:
    """One line per record; O_APPEND makes each short write land whole, whoever writes."""
    line = (json.dumps({**record, "pid": os.getpid()}) + "\n").encode()
    descriptor = os.open(os.environ["SCALE_OUT_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


class FileMailer:
    """Delivers by writing the message's idempotency key to the shared file."""

    async def send(self, message: Message) -> None:
        await asyncio.sleep(float(os.environ.get("SCALE_OUT_MAIL_DELAY", "0")))
        append({"kind": "email", "key": message.idempotency_key})


async def record_delivery(event: DomainEvent) -> None:
    append({"kind": "event", "key": str(event.event_id)})


_build_app_events = lifespan.build_app_events


def _build_with_a_recorder(*args: Any, **kwargs: Any) -> Any:
    events = _build_app_events(*args, **kwargs)
    events.bus.subscribe(DomainEvent, record_delivery, name="test_recorder")
    return events


lifespan.build_app_events = _build_with_a_recorder


def create_app() -> Any:
    app = create_workshop_app()
    app.state.mailer = FileMailer()
    return app
