"""Plumbing shared by the contexts, and the one door to the event store library; imports only
libraries (eventsourcing, psycopg, sqlite3, orjson), nothing of ours.

- `storage.event_store`: the write side's recorders (one-round-trip saves that also prove the
  versions a command only read) and every use of the library's private names, one public
  function each (pinned by tests/unit/test_event_store_library.py);
- `storage.listen`: LISTEN for the event store's commits (PostgreSQL), for followers;
- `storage.log`: the one reader of the event log (every follower reads through it), and the
  only code that knows the library's table layout;
- `storage.decode`: stored event -> attributes, cheaply;
- `storage.sql` and `storage.table`: the one dual-dialect SQL store (read models, audit tables,
  mail outbox, link attempts) and a table's shape;
- `storage.preflight`: the schema check a process makes before it starts on PostgreSQL.
"""
