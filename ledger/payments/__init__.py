"""Payments: wallets, top-ups and payments, as commands (commands.py) and their handlers."""
