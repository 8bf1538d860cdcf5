"""Emulators of outside services, started by the tests as real HTTP servers."""
