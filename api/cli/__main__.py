"""`python -m api.cli …`: the same as `kvit …` (how `kvit serve` starts its writer)."""

from api.cli import main

main()
