"""Kvit's write side: the ЖКУ payment domain as event-sourced aggregates."""
