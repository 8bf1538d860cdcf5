"""What a payer who has not proven possession of an account may see of it.

The rule: a word that says what kind of place follows (`г.`, `ул.`, `пр-т`, `д.`, `кв.`, …) stays;
any word holding a digit (`1`, `12А`, `2к1`) and any other one-letter word (a building letter:
`корп. Б`) becomes one `*`; any other word (a name, however short: `Уфа`, `Ир`) keeps its first
letter and becomes `X***`, the same three stars whatever its length, so that does not narrow it
down either.
"""

from __future__ import annotations

import re

WORD = re.compile(r"\w+(?:-\w+)*")  # `пр-т`, `Ростов-на-Дону`: one word each
# Kinds of place as addresses abbreviate or spell them (lower case).
KINDS = frozenset({
    "г", "гор", "город", "ул", "улица", "пр", "просп", "проспект", "пр-т", "пер", "переулок",
    "пл", "площадь", "ш", "шоссе", "наб", "б-р", "бул", "бульвар", "туп", "проезд", "пр-д",
    "аллея", "линия", "мкр", "мкрн", "микрорайон", "р-н", "район", "обл", "область", "край",
    "респ", "республика", "ао", "округ", "пос", "пгт", "п", "с", "село", "дер", "д", "дом",
    "вл", "влад", "кв", "квартира", "корп", "корпус", "к", "стр", "строение", "лит", "литер",
    "литера", "пом", "помещение", "ком", "комн", "эт", "этаж", "офис", "оф", "тер", "снт",
})  # fmt: skip


def mask_address(address: str) -> str:
    """ "г. Москва, ул. Примерная, д. 12А, кв. 1" -> "г. М***, ул. П***, д. *, кв. *"."""

    def hide(match: re.Match[str]) -> str:
        word = match.group(0)
        # A capital single letter is a building letter (`корп. Б`), not `д` or `к`.
        if word.lower() in KINDS and (len(word) > 1 or word.islower()):
            return word
        if len(word) == 1 or any(character.isdigit() for character in word):
            return "*"
        return word[0] + "***"

    return WORD.sub(hide, address)
