"""E-mail notices of card payments, sent by a worker that follows the event log (an outbox)."""
