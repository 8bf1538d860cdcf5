"""A small client of T-Bank's API: signs each request and tells a refusal from an outage.

Written with httpx rather than the `tbank` SDK from PyPI: that SDK's receipt items carry no
`AgentData`/`SupplierInfo` (the payment agent's attributes a ЖКУ receipt needs) and its models
drop fields they do not know, Init has no `DATA`, and the six calls Kvit makes are each one
signed POST. Nothing is retried here: Init, Charge and Cancel are not idempotent at T-Bank
(Cancel is made so with `ExternalRequestId`), and reconciliation asks again later anyway.
"""

from __future__ import annotations

from typing import Any

import httpx

from api.acquirer.tbank.token import token

TIMEOUT_SECONDS = 15.0


class TBankError(Exception):
    """T-Bank answered and refused (`Success: false`); `code` is its `ErrorCode`."""

    def __init__(self, method: str, answer: dict[str, Any]) -> None:
        self.method = method
        self.code = str(answer.get("ErrorCode", ""))
        self.status = str(answer.get("Status") or "")
        self.answer = answer
        message = answer.get("Message") or "refused"
        details = answer.get("Details")
        super().__init__(
            f"T-Bank {method} refused: {message}"
            + (f" ({details})" if details else "")
            + f" [ErrorCode {self.code}]"
        )


class TBankUnavailableError(Exception):
    """No usable answer: a network error, a timeout, or something that is not the API's JSON."""


class TBankClient:
    def __init__(
        self,
        terminal_key: str,
        password: str,
        api_url: str,
        *,
        http: httpx.Client | None = None,
    ) -> None:
        self.terminal_key = terminal_key
        self.password = password
        self.api_url = api_url.rstrip("/")
        self._http = http or httpx.Client(timeout=TIMEOUT_SECONDS)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, fields: dict[str, Any]) -> dict[str, Any]:
        """The signed body of a call (what the contract tests compare with the examples)."""
        body = {"TerminalKey": self.terminal_key, **fields}
        body["Token"] = token(body, self.password)
        return body

    def call(self, method: str, fields: dict[str, Any]) -> Any:
        """POST /v2/<method>; the answer's JSON, or TBankError if T-Bank refused."""
        try:
            response = self._http.post(
                f"{self.api_url}/{method}", json=self.request(method, fields)
            )
            answer = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise TBankUnavailableError(f"T-Bank {method}: {error}") from error
        if isinstance(answer, dict) and (
            answer.get("Success") is not True or str(answer.get("ErrorCode", "0")) != "0"
        ):
            raise TBankError(method, answer)
        if response.status_code != 200:
            raise TBankUnavailableError(f"T-Bank {method}: HTTP {response.status_code}")
        return answer
