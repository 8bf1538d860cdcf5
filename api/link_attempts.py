"""A limit on probing personal accounts, kept in the read store so every worker counts alike.

A probe is anything that tells a payer whether an account exists, what it owes, or whether an
ИПД is its bill's: linking an account (`POST /v1/me/accounts`), resolving a QR code
(`POST /v1/qr:resolve`), asking for a bill's QR code by its ИПД, paying an account the payer is
not linked to (`POST /v1/payments`, api/payment_probes.py). Each counts once per payer
(`limit` per window) and once against the account it names (`account_limit` per window, across
payers, so many identities cannot share out the guessing). Only a probe that proves
possession (the ИПД printed on one of the account's bills) is given back: whoever holds the
bill learns nothing from it.

The count is taken before anything is looked up, in one atomic upsert per subject whose
RETURNING answers "how many so far": two workers can never both see the last free attempt.
Once a limit is reached every probe is refused with 429 before any look-up, so an answer tells
an enumerator no more than the limit allows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from uuid import UUID

from api.auth import Caller, Role
from api.problems import LinkAttemptsExceededProblem
from ledger.domain import PersonalAccount
from ledger.qr.payload import QrPayment
from storage.sql import Store, Tx

# Before issue 16 the table `link_attempt` counted failures per payer, after answering. Its
# rows mean nothing to this count; it is left for workers of the old version still running
# during an upgrade, and may be dropped once they are gone.
TABLE = "link_attempt_window"


def migrate(store: Store) -> None:
    real = "DOUBLE PRECISION" if store.postgres else "REAL"
    with store.writing() as tx:
        tx.create_schema()
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {store.name(TABLE)} (subject TEXT PRIMARY KEY,"
            f" attempts INTEGER NOT NULL, window_started {real} NOT NULL)"
        )


def payer_subject(payer_id: str) -> str:
    return f"payer:{payer_id}"


def account_subject(supplier_inn: str, account_number: str) -> str:
    """An account as a probe names it (it may not exist): the parsed ИНН and number."""
    return account_id_subject(PersonalAccount.id_for(supplier_inn, account_number))


def account_id_subject(account_id: UUID) -> str:
    """An account named by its id, which is derived from its ИНН and number (anyone can make
    it): counted as the same subject, whichever way a probe names the account."""
    return f"account:{account_id}"


def document_subject(document_id: str) -> str:
    """A probe that names only an ИПД is counted against its ЕЛС (the first 10 characters of a
    parsed ИПД): guesses at one account's bills share it whatever else they vary."""
    return f"els:{document_id[:10]}"


def qr_subject(qr: QrPayment) -> str | None:
    """What a scanned code names: its account (ИНН and number), else its ИПД's ЕЛС."""
    if qr.inn is not None and qr.account_number is not None:
        return account_subject(qr.inn, qr.account_number)
    return None if qr.document_id is None else document_subject(qr.document_id)


@dataclass
class Attempt:
    """One counted probe: the windows it was counted in, to give back if it proves possession."""

    counted: list[tuple[str, float]] = field(default_factory=list)
    retry_after: int = 0


@dataclass(frozen=True)
class LinkAttempts:
    store: Store
    limit: int
    window_seconds: int
    account_limit: int

    def count(self, payer_id: str, account: str | None, now: float | None = None) -> Attempt:
        """Count one probe by the payer against `account` (None: it names none we can key).
        `retry_after` > 0: a limit was already reached and the probe must be refused. The
        account is counted only for a payer still within their own limit, so one payer adds
        at most `limit` to an account's count in a window."""
        now = time.time() if now is None else now
        attempt = Attempt()
        with self.store.writing() as tx:
            subjects = [(payer_subject(payer_id), self.limit)]
            if account is not None:
                subjects.append((account, self.account_limit))
            for subject, limit in subjects:  # payer first: one order, so no deadlock
                attempts, started = self._add(tx, subject, now)
                attempt.counted.append((subject, started))
                if attempts > limit:
                    attempt.retry_after = max(1, int(started + self.window_seconds - now) + 1)
                    break
        return attempt

    def admit(self, caller: Caller, account: str | None) -> Attempt:
        """`count` a resident's probe, raising 429 `link_attempts_exceeded` (with Retry-After)
        over a limit. Operators and auditors see every account anyway: they are not counted."""
        if caller.role != Role.RESIDENT or caller.payer_id is None:
            return Attempt()
        attempt = self.count(caller.payer_id, account)
        if attempt.retry_after:
            raise LinkAttemptsExceededProblem(
                "too many attempts to link or look up personal accounts; try again later",
                retry_after=attempt.retry_after,
            )
        return attempt

    def give_back(self, attempt: Attempt) -> None:
        """A probe proved possession: it uses up nothing. Only in the window it was counted
        in (a new window has not counted it)."""
        if not attempt.counted:
            return
        with self.store.writing() as tx:
            for subject, started in attempt.counted:
                tx.execute(
                    f"UPDATE {self.store.name(TABLE)} SET attempts = attempts - 1"
                    " WHERE subject = %s AND window_started = %s AND attempts > 0",
                    [subject, started],
                )

    def _add(self, tx: Tx, subject: str, now: float) -> tuple[int, float]:
        """One more attempt in the subject's window (a new window if the last has passed):
        the count so far and when the window started, in one statement."""
        expired = now - self.window_seconds
        rows = tx.execute(
            f"INSERT INTO {self.store.name(TABLE)} AS t (subject, attempts, window_started)"
            " VALUES (%s, 1, %s) ON CONFLICT (subject) DO UPDATE SET"
            " attempts = CASE WHEN t.window_started <= %s THEN 1 ELSE t.attempts + 1 END,"
            " window_started = CASE WHEN t.window_started <= %s THEN %s"
            " ELSE t.window_started END"
            " RETURNING attempts, window_started",
            [subject, now, expired, expired, now],
        )
        return int(rows[0][0]), float(rows[0][1])
