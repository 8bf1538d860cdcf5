"""A batch of notice commands (a register's lines) decided together and written in one insert.

The outcome of every line is the one its handler (ledger/notices/handlers.py) gives when the
batch runs command by command (ledger/engine/batch.py), and the same events are written; only
the cost differs. Command by command, each line paid for a unit of work, a private copy of
every aggregate it read (a pickle round trip each), the library's event machinery twice, and
a roll-back record; in the profile that was most of a line's CPU. Here:

- The notices of every line are read from the store in one query (a re-sent line must meet
  the committed notice), then the bills, accounts and ЕЛС indexes the lines name, then the
  accounts' suppliers: one query per hop for what the aggregate cache does not hold, and the
  cache's own committed copies, unchanged, for what it does.
- Each line is decided by the same checks as its handler (`check_receive`, `resolve`,
  `check_annul`), in file order, against what the batch has decided so far: an OrderID twice
  in one file is accepted once, then a duplicate.
- An accepted line's two events (`BankNotice.Accepted`, `PersonalAccount.PaymentReceived`)
  are encoded directly, with the fields `accepted_fields` gives the handler, at the versions
  the batch counts: the notice's stored form straight from its fields (storage/encode.py),
  never built as an event; an annulment (rare) goes through the aggregate itself.
- The save proves everything read still current (versions of what was only read, primary keys
  for what is written), as every batch's does; a conflict (another import, a payment on the
  same account) re-runs the batch against the store, a bounded number of times. Each account
  written is then cached at its new version; new notices are not (a register would flush the
  cache of everything that is read again).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.domain import datetime_now_with_tzinfo
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.utils import get_topic

from ledger.domain import BankNotice, Bill, PersonalAccount, Supplier
from ledger.domain.els_index import ElsIndex
from ledger.engine.aggregate_cache import clone
from ledger.engine.batch import BatchItem, check_size
from ledger.engine.group_commit import (
    MAX_ATTEMPTS,
    Outcome,
    backoff,
    encoded,
    evict,
    save_encoded,
)
from ledger.engine.prefetch import ReadOnly, from_store
from ledger.engine.unit_of_work import CachedApplication, Changes
from ledger.errors import ConcurrentUpdateError, LedgerError
from ledger.notices.commands import AnnulNotice, NoticeResult, ReceiveNotice
from ledger.notices.handlers import (
    A,
    accepted_fields,
    check_annul,
    check_notice_requisites,
    check_receive,
    resolve,
)
from ledger.notices.line import NoticeLine

NoticeCommand = ReceiveNotice | AnnulNotice
NOTICE_TOPIC = get_topic(BankNotice)


def is_notice_batch(commands: Sequence[Any]) -> bool:
    return bool(commands) and all(type(c) in (ReceiveNotice, AnnulNotice) for c in commands)


def run_notice_batch(app: CachedApplication, commands: Sequence[NoticeCommand]) -> list[BatchItem]:
    """Every command's outcome or error, as `run_batch` would give them, in one transaction."""
    check_size(commands)
    with collector_paused():  # the writer's batches too (the importer pauses it already)
        return _run(app, commands)


def _run(app: CachedApplication, commands: Sequence[NoticeCommand]) -> list[BatchItem]:
    for attempt in range(MAX_ATTEMPTS):
        batch = NoticeBatch(app, trust_cache=attempt == 0)
        results = batch.decide(commands)
        if not batch.events:
            # No save proves the cached copies a rejection rests on: a query does.
            stale = batch.reads.moved(batch.unproven)
            if stale:
                app.aggregate_cache.evict(stale)
                continue
            return _items(results, 0)
        changes = batch.changes()
        try:
            position = save_encoded(app, changes)
        except IntegrityError:
            evict(app, changes)
            backoff(attempt)
            continue
        batch.cache_accounts()
        return _items(results, position)
    raise ConcurrentUpdateError(
        f"gave up after {MAX_ATTEMPTS} version conflicts", attempts=MAX_ATTEMPTS
    )


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is read, decided and saved: it allocates
    hundreds of thousands of objects, nearly all freed by reference counting, and every
    collection it set off walked the whole process (the aggregate cache with it): a fifth of
    a line's CPU in the profile. What cycles it leaves are collected after it. (Process-wide:
    other threads' collections wait for the batch too.)"""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _items(results: list[NoticeResult | LedgerError], position: int) -> list[BatchItem]:
    return [
        BatchItem(error=r) if isinstance(r, LedgerError) else BatchItem(Outcome(r, position))
        for r in results
    ]


class NoticeBatch:
    """One attempt at a batch: what it read, what it decided, the events to save."""

    def __init__(self, app: CachedApplication, *, trust_cache: bool) -> None:
        self.app = app
        self.reads = ReadOnly(app, trust_cache)
        self.notices: dict[UUID, BankNotice | AcceptedHere | None] = {}
        """Each line's notice: as stored, or accepted by an earlier line of this batch."""
        self.notice_versions: dict[UUID, int] = {}
        self.events: list[StoredEvent] = []
        """What the save writes, in its stored form."""
        self.mapper = app.events.mapper
        self.accounts: dict[UUID, tuple[PersonalAccount, list[Any]]] = {}
        """Accounts written: as read, and their new events."""
        self.kinds: dict[UUID, type[Any]] = {}
        self.requisites_ok: set[tuple[Any, ...]] = set()
        """Suppliers (at a version) and the requisites lines gave that matched them."""
        self.consulted: set[UUID] = set()
        """What the line being decided took from the cache unchecked."""
        self.unproven: set[UUID] = set()
        """What rejected lines took from the cache unchecked."""

    # --- the `Finder` that `resolve` reads through -------------------------------------------
    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        found = self.reads.get(aggregate_id)
        if aggregate_id in self.reads.trusted:
            self.consulted.add(aggregate_id)
        return found if isinstance(found, cls) else None

    # --- deciding -----------------------------------------------------------------------------
    def decide(self, commands: Sequence[NoticeCommand]) -> list[NoticeResult | LedgerError]:
        # Each notice's id once: a uuid5 of its bank and OrderID, asked for at every step.
        ids = [c.record_id for c in commands]
        self._prefetch(commands, ids)
        results: list[NoticeResult | LedgerError] = []
        for command, notice_id in zip(commands, ids, strict=True):
            self.consulted.clear()
            try:
                if isinstance(command, ReceiveNotice):
                    results.append(self._receive(command, notice_id))
                else:
                    results.append(self._annul(command))
            except LedgerError as error:  # decided before anything was added: nothing to undo
                # An answer, not a failure: its traceback would hold this batch (every
                # aggregate it read) in a cycle until the next full collection.
                results.append(error.with_traceback(None))
                self.unproven |= self.consulted
        return results

    def _receive(self, cmd: ReceiveNotice, notice_id: UUID) -> NoticeResult:
        seen = self.notices.get(notice_id)
        content = check_receive(cmd, seen)
        if seen is not None:
            return {"notice_id": str(notice_id), "outcome": "duplicate"}
        account, supplier, bill_id = resolve(self, cmd.line, check=self._check_requisites)
        fields = accepted_fields(cmd, account, supplier, bill_id, content)
        now = datetime_now_with_tzinfo()
        fields["timestamp"], fields["originator_topic"] = now, NOTICE_TOPIC
        self.notices[notice_id] = AcceptedHere(notice_id, fields)
        self.kinds[notice_id] = BankNotice
        self.events.append(encoded(self.app, BankNotice.Accepted, notice_id, 1, fields))
        self._account_event(
            account,
            PersonalAccount.PaymentReceived,
            now,
            payment_id=notice_id,
            bill_id=bill_id,
            amount=fields["amount"],
        )
        return {"notice_id": str(notice_id), "outcome": "accepted", "account_id": str(account.id)}

    def _annul(self, cmd: AnnulNotice) -> NoticeResult:
        notice = self._notice(cmd.record_id)
        if not check_annul(cmd, notice):
            return {"notice_id": str(cmd.record_id), "outcome": "duplicate"}
        assert notice is not None
        account = self.find(PersonalAccount, notice.account_id)
        assert account is not None  # a notice is only ever accepted for an existing account
        notice.annul(annul_date=cmd.annul_date)
        [annulled] = notice.collect_events()
        self.kinds[notice.id] = BankNotice
        self.events.append(self.mapper.to_stored_event(annulled))
        self._account_event(
            account,
            PersonalAccount.PaymentRefunded,
            annulled.timestamp,
            payment_id=notice.id,
            bill_id=notice.bill_id,
            amount=notice.amount,
        )
        return {"notice_id": str(notice.id), "outcome": "annulled"}

    def _check_requisites(self, supplier: Supplier, line: NoticeLine) -> None:
        """`check_notice_requisites`, once per supplier and requisites seen (a register gives
        the same ones on every line); a mismatch is checked, and raised, every time."""
        key = (
            supplier.id, supplier.version, line.recipient_inn, line.recipient_kpp, line.bik,
            line.settlement_account,
        )  # fmt: skip
        if key not in self.requisites_ok:
            check_notice_requisites(supplier, line)
            self.requisites_ok.add(key)

    def _notice(self, notice_id: UUID) -> BankNotice | None:
        """The notice as an aggregate this batch may change (stored ones are its own copies;
        one accepted by an earlier line is built from its event)."""
        found = self.notices.get(notice_id)
        if isinstance(found, AcceptedHere):
            found = self.notices[notice_id] = found.event().mutate(None)
        return found

    def _account_event(
        self, account: PersonalAccount, kind: type[Any], timestamp: Any, **fields: Any
    ) -> None:
        """The account's next event: `account` is the cache's or the store's copy, never
        changed here (the save writes on top of the version it has)."""
        written = self.accounts.setdefault(account.id, (account, []))[1]
        version = account.version + len(written) + 1
        # Built for the cache (`cache_accounts`), encoded from its fields for the save.
        event = kind(
            originator_id=account.id, originator_version=version, timestamp=timestamp, **fields
        )  # before `timestamp` joins `fields` below
        written.append(event)
        self.kinds[account.id] = PersonalAccount
        fields["timestamp"] = timestamp
        self.events.append(encoded(self.app, kind, account.id, version, fields))

    # --- reading ------------------------------------------------------------------------------
    def _prefetch(self, commands: Sequence[NoticeCommand], ids: list[UUID]) -> None:
        """Every aggregate the lines will read, one hop at a time, one query per hop."""
        stored = from_store(self.app, ids)
        for notice_id, notice in stored.items():
            self.notices[notice_id] = notice if isinstance(notice, BankNotice) else None
            if notice is not None:
                self.notice_versions[notice_id] = notice.version
        # A line whose notice is stored is a duplicate or a conflict: it names nothing to read
        # (a re-sent register would otherwise load every account it names).
        receives = [
            c.line
            for c, notice_id in zip(commands, ids, strict=True)
            if isinstance(c, ReceiveNotice) and stored[notice_id] is None
        ]
        self.reads.load(_first_hop(line) for line in receives)
        accounts: list[UUID] = []
        for line in receives:
            accounts.extend(self._second_hop(line))
        # an annulment's account (not a re-sent line's: not read)
        for command, notice_id in zip(commands, ids, strict=True):
            notice = stored[notice_id]
            if isinstance(command, AnnulNotice) and isinstance(notice, BankNotice):
                accounts.append(notice.account_id)
        self.reads.load(accounts)
        found = self.reads.found.values()
        self.reads.load(a.supplier_id for a in found if isinstance(a, PersonalAccount))

    def _second_hop(self, line: NoticeLine) -> list[UUID]:
        first = self.reads.found.get(_first_hop(line))
        if isinstance(first, Bill):
            return [first.account_id]
        if isinstance(first, ElsIndex):
            return [UUID(a) for a in first.account_ids]
        return []

    # --- saving -------------------------------------------------------------------------------
    def changes(self) -> Changes:
        changes = Changes(
            events=self.events,
            kinds=self.kinds,
            expected_versions=self.reads.versions | self.notice_versions,
            server_generation=self.reads.server_generation,
        )
        changes.finish()
        return changes

    def cache_accounts(self) -> None:
        """Once committed: each account written, at its new version, for the next batch."""
        cache = self.app.aggregate_cache
        for account, events in self.accounts.values():
            updated: Any = clone(account)
            for event in events:
                updated = event.mutate(updated)
            cache.offer(updated)


class AcceptedHere:
    """A notice an earlier line of this batch accepted: its fingerprint for a re-sent line,
    its event only if a later line annuls it (rare)."""

    __slots__ = ("fields", "notice_id")

    def __init__(self, notice_id: UUID, fields: dict[str, Any]) -> None:
        self.notice_id, self.fields = notice_id, fields
        """The event's every field but the originator's id and version."""

    @property
    def fingerprint(self) -> str:
        fingerprint: str = self.fields["fingerprint"]
        return fingerprint

    def event(self) -> BankNotice.Accepted:
        return BankNotice.Accepted(
            originator_id=self.notice_id, originator_version=1, **self.fields
        )


def _first_hop(line: NoticeLine) -> UUID:
    """What `resolve` reads first for this line: its bill, its account, or its ЕЛС's index."""
    if line.document_id:
        return Bill.id_for(line.document_id)
    if line.account_number and line.recipient_inn:
        return PersonalAccount.id_for(line.recipient_inn, line.account_number)
    return ElsIndex.id_for(line.els or (line.housing_id or "")[:10])
