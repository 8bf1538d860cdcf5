"""Sending one message over SMTP, configured by a URL: smtp://[user:password@]host:port."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

TIMEOUT_SECONDS = 10


class SmtpMailer:
    def __init__(self, url: str, sender: str = "Kvit <no-reply@kvit.local>") -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"KVIT_SMTP_URL must be smtp:// or smtps://, got {parts.scheme}://")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self.tls = parts.scheme == "smtps"
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender

    def send(self, message: EmailMessage) -> None:
        if "From" not in message:
            message["From"] = self.sender
        smtp_class = smtplib.SMTP_SSL if self.tls else smtplib.SMTP
        with smtp_class(self.host, self.port, timeout=TIMEOUT_SECONDS) as smtp:
            if self.user and self.password:
                smtp.login(self.user, self.password)
            smtp.send_message(message)
