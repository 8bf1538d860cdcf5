"""The composition root: everything an API process holds, wired in one place.

`Services` is known when the app is created (settings, secrets, the acquirer, the cabinet's
demo switch). `run` opens the rest for the app's lifespan: the ledger, the read models, the
link-attempt limit, the audit store and, in embedded mode, the followers this one process runs
(the mail worker, the audit chain with its checkpoints, and the acquirer's reconciliation).
On PostgreSQL those are separate processes (`kvit mail`, `kvit audit follow`, `kvit acquirer
reconcile --every`). Everything is closed in reverse.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from uuid import UUID

from api import link_attempts
from api.acquirer.base import Acquirer, AcquirerApi
from api.acquirer.reconcile import Reconciler
from api.oidc import sessions
from api.oidc.base import IdentityProvider
from api.oidc.cookies import Cookies
from api.oidc.provider import OpenIdProvider
from api.replica import LogReader, LogReads, open_log_reads
from api.settings import ApiSettings
from audit import receipt_code
from audit.chain import ChainFollower, Checkpointer
from audit.proof import receipt_code_of
from audit.service import sign_head
from audit.signing import AuditSettings, signing_key
from audit.store import AuditStore
from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from ledger.engine.channel import WriterClient
from mail.message import ReceiptCode
from mail.service import MailService
from projections.read_models import ReadModels
from projections.settings import ReadSettings, open_store
from storage.log import in_memory

FOLLOWER_JOIN_SECONDS = 5


@dataclass(frozen=True)
class Running:
    """What the lifespan opened; routes reach it through api/deps.py."""

    ledger: Ledger
    read_models: ReadModels
    link_attempts: link_attempts.LinkAttempts
    audit_settings: AuditSettings
    audit_store: AuditStore | None
    """None when the log is in memory: there is no database to keep a chain in."""
    sessions: sessions.Sessions
    """The cabinet's sessions and sign-ins in flight (api/oidc/sessions.py)."""
    log_reads: LogReads
    """Where the auditors' heavy reads of the log go (api/replica.py)."""


@dataclass
class Services:
    """The one object on `app.state`; `running` is set while the lifespan runs."""

    settings: ApiSettings
    secret_key: str
    acquirer_secret: str | None
    """None when unset and no sandbox signs with it: the signed webhook then takes nothing."""
    acquirer: Acquirer | None
    """None when no acquirer is configured: card payments and top-ups are refused."""
    cabinet_demo: bool
    sandbox_checkout: bool
    """The built-in sandbox acquirer's checkout pages are mounted (/sandbox)."""
    running: Running | None = None
    cookies: Cookies = field(init=False)
    identity: IdentityProvider | None = field(init=False)
    """The OpenID Provider residents sign in with; None without KVIT_OIDC_ISSUER."""

    def __post_init__(self) -> None:
        self.cookies = Cookies.for_url(self.settings.base_url)
        self.identity = OpenIdProvider(self.settings) if self.settings.oidc_enabled else None

    def started(self) -> Running:
        if self.running is None:
            raise RuntimeError("the app is not running: its lifespan has not started")
        return self.running


@contextmanager
def run(
    settings: ApiSettings, ledger: Ledger | None = None, acquirer: Acquirer | None = None
) -> Iterator[Running]:
    """Open everything in dependency order; a `ledger` passed in is the caller's to close."""
    with ExitStack() as opened:
        if ledger is None:
            ledger = build_ledger(settings)
            opened.callback(ledger.close)
            if settings.writer_socket is not None:
                ledger.use_writer(WriterClient(settings.writer_socket))
        read_models = ReadModels(settings, ledger).start()
        opened.callback(read_models.close)
        if not settings.uses_postgres:  # on PostgreSQL `kvit migrate` creates them
            link_attempts.migrate(read_models.store)
            sessions.migrate(read_models.store)
        attempts = link_attempts.LinkAttempts(
            read_models.store,
            settings.link_attempts_limit,
            settings.link_attempts_window_seconds,
            settings.link_attempts_account_limit,
        )
        audit_settings = AuditSettings(**settings.model_dump())
        store = audit_store(ledger, audit_settings)
        if store is not None:
            opened.callback(store.close)
            if not audit_settings.uses_postgres:
                opened.enter_context(chain_follower(ledger, store, audit_settings))
        if settings.smtp_url and not settings.uses_postgres:
            opened.callback(mail_service(settings, ledger, store).start_thread().close)
        log_reads = open_log_reads(
            LogReader(ledger, store), audit_settings, read_models.read_settings.wait_timeout_seconds
        )
        opened.callback(log_reads.close)
        seconds = settings.acquirer_reconcile_seconds
        if isinstance(acquirer, AcquirerApi) and not settings.uses_postgres and seconds > 0:
            opened.callback(Reconciler(ledger, acquirer, seconds).start().close)
        yield Running(
            ledger,
            read_models,
            attempts,
            audit_settings,
            store,
            sessions.Sessions(read_models.store),
            log_reads,
        )


def mail_service(settings: ApiSettings, ledger: Ledger, store: AuditStore | None) -> MailService:
    """The mail worker, with the payments' receipt codes where the log is audited."""
    return MailService(
        ledger,
        open_store(settings, ReadSettings()),
        settings.smtp_url,
        receipt_code=None if store is None else partial(mailed_receipt_code, ledger, store),
        receipt_wait=settings.mail_receipt_wait_seconds,
    )


def mailed_receipt_code(ledger: Ledger, store: AuditStore, payment_id: UUID) -> ReceiptCode | None:
    text = receipt_code_of(ledger, store, payment_id)
    if text is None:
        return None
    png = io.BytesIO()
    receipt_code.qr(text).save(png, kind="png", scale=4, border=4)
    return ReceiptCode(text, png.getvalue())


def audit_store(ledger: Ledger, settings: AuditSettings) -> AuditStore | None:
    if in_memory(ledger):
        return None  # in memory
    return AuditStore.open(settings)


@contextmanager
def chain_follower(ledger: Ledger, store: AuditStore, settings: AuditSettings) -> Iterator[None]:
    """Embedded mode: extend the hash chain as events commit, and sign a checkpoint every
    `KVIT_AUDIT_CHECKPOINT_EVERY_EVENTS` events (or interval)."""
    store.ensure_tables()
    signing_key(settings)  # generated once into the data dir
    checkpointer = Checkpointer(
        lambda head: sign_head(settings, store, head),
        every_events=settings.audit_checkpoint_every_events,
        interval=settings.audit_checkpoint_interval_seconds,
        last=store.head(),
    )
    follower = ChainFollower(ledger, store, on_progress=checkpointer)
    follower.start()
    try:
        yield
    finally:
        follower.stop()
        follower.join(FOLLOWER_JOIN_SECONDS)
