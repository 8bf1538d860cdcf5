"""The registry: suppliers, personal accounts, payers and bills, as commands and handlers."""
