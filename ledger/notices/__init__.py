"""Bank notices: one line (line.py), a bank's file (file.py), its import (importer.py) and the
commands that receive and annul a notice (handlers.py)."""
