"""The cabinet's browser fixtures (tests/e2e/browser.py)."""

from tests.e2e.browser import browser, page, server  # noqa: F401
