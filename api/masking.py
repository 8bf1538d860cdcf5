"""What a payer who has not proven possession of an account may see of it."""

from __future__ import annotations

import re

WORD = re.compile(r"\w+")


def mask_address(address: str) -> str:
    """Keep the shape and the first letter of each name, hide the rest and every number:
    "г. Москва, ул. Примерная, д. 1, кв. 1" -> "г. М*****, ул. П********, д. *, кв. *"."""

    def hide(match: re.Match[str]) -> str:
        word = match.group(0)
        if word.isdigit():
            return "*"
        if len(word) <= 3:  # г, ул, д, кв, пр-т: the kind of place, not the place
            return word
        return word[0] + "*" * (len(word) - 1)

    return WORD.sub(hide, address)
