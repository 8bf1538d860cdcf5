"""The browser tests' fixtures: the cabinet's (tests/e2e/browser.py), and a real SMTP server."""

from collections.abc import Iterator

import pytest

from tests.e2e.browser import browser, page, server  # noqa: F401
from tests.integration.test_notices import Inbox
from tests.processes import free_port


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[int, Inbox]]:
    """aiosmtpd on a free port, and what it received."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()
