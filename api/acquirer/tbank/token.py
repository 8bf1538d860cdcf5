"""T-Bank's `Token`: how every request to the API and every notification from it is signed.

As documented: take the root parameters (nested objects such as `Receipt` and `DATA` are left
out), add `Password`, sort by key, concatenate the values and take SHA-256 of the UTF-8 bytes
as lower-case hex. Booleans are written as `true`/`false`, as they appear in the JSON.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any


def token(fields: Mapping[str, Any], password: str) -> str:
    values = {
        key: value
        for key, value in fields.items()
        if key != "Token" and value is not None and not isinstance(value, dict | list)
    }
    values["Password"] = password
    joined = "".join(_text(values[key]) for key in sorted(values))
    return hashlib.sha256(joined.encode()).hexdigest()


def signed(fields: Mapping[str, Any], password: str) -> bool:
    """Whether `fields` carry the token this password makes (in constant time)."""
    given = fields.get("Token")
    return isinstance(given, str) and hmac.compare_digest(given, token(fields, password))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
