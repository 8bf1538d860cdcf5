"""E-mails to payers about their succeeded card payments, sent by a worker that follows the
event log (an outbox). A "notice" is a bank's, never an e-mail (docs/architecture.md)."""
