"""T-Bank's internet acquiring API (EACQ, `/v2/...`): the request token, a small client, the
54-ФЗ receipt, and the adapter that makes it Kvit's acquirer."""
