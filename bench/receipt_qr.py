"""How large a payment's receipt code and its QR code get as the log grows.

    python -m bench.receipt_qr

For trees of 1,000 to 10 million entries, a card payment (the larger kind: a bill's ИПД and
the payer's e-mail) coded alone and with its success 2, 100 and 10,000 entries later, at 200
random places among the newest 10,000 entries (a receipt's checkpoint is the first that covers
the payment). Prints the code's bytes and the QR version (median and largest) in the QR's
alphanumeric mode (the code as it is) and, for comparison, in byte mode (the payload before
base45), with the error correction level the code uses (audit/receipt_code.py: L, raised where
the symbol has room). Sizes only: nothing is timed.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from typing import Any

import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import receipt_code
from tests.receipts import card_payment, code_in_a_tree_of

SIZES = (1_000, 100_000, 1_000_000, 10_000_000)
GAPS = (None, 2, 100, 10_000)
PLACES = 200
NEWEST = 10_000


def main() -> None:
    key = Ed25519PrivateKey.generate()
    created, succeeded = card_payment()
    print("| entries | coded | bytes (median / max) | QR alphanumeric, as used | byte mode, L |")
    print("|---|---|---|---|---|")
    for size in SIZES:
        for gap in GAPS:
            if gap is not None and gap >= size:
                continue
            chosen = random.Random(size * 7 + (gap or 0))
            codes = []
            for _ in range(PLACES):
                last = size - 1 - chosen.randrange(min(size - (gap or 0), NEWEST))
                placed = {last: created} if gap is None else {last - gap: created, last: succeeded}
                codes.append(code_in_a_tree_of(size, placed, key))
            codes.sort(key=len)
            median, largest = codes[len(codes) // 2], codes[-1]
            (used, raw), (used_max, raw_max) = describe(median), describe(largest)
            coded = "creation" if gap is None else f"creation + success {gap:,} later"
            print(
                f"| {size:,} | {coded} | {len(payload(median)):,} / {len(payload(largest)):,}"
                f" | {used} / {used_max} | {raw} / {raw_max} |"
            )


def payload(text: str) -> bytes:
    return bytes(CHECKER.unbase45(text[len(receipt_code.PREFIX) :]))


def describe(text: str) -> tuple[str, str]:
    used = receipt_code.qr(text)
    raw = segno.make(payload(text), mode="byte", error="l", boost_error=False)
    return f"v{used.version}-{used.error}", f"v{raw.version}"


def _checker() -> object:
    path = Path(__file__).resolve().parents[1] / "docs/verify_receipt.py"
    spec = importlib.util.spec_from_file_location("verify_receipt", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHECKER: Any = _checker()


if __name__ == "__main__":
    main()
