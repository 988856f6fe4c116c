"""A real SMTP server for the e-mail tests (aiosmtpd), and the messages it received, parsed."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """aiosmtpd handler: keeps every message it accepted; `hold` makes DATA wait (a slow server)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.hold_after: int | None = None  # make the message after this many wait
        self.waiting = threading.Event()  # set when a message is waiting
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            count = len(self.messages)
        if self.hold_after is not None and count >= self.hold_after and not self.release.is_set():
            self.waiting.set()
            import asyncio

            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 Try again later"  # the held message is never accepted
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"

    def subjects(self) -> list[str]:
        with self.lock:
            return [str(m["Subject"]) for m in self.messages]


class SmtpServer:
    """Start aiosmtpd on a free port; `url` is the EMAIL_URL that reaches it."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.inbox.release.set()
        self.controller.stop()
