"""Kvit's HTTP edge and command line."""
