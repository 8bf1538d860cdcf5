"""Plumbing shared by the contexts: the one reader of the event log and the one SQL store.

Imports only libraries (eventsourcing, psycopg, sqlite3, orjson), nothing of ours."""
