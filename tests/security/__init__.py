"""Attack tests: each one a hostile review's finding, kept so the next review starts here."""
