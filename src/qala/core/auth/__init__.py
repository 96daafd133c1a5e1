"""Users, roles, sign-in sessions, bearer tokens, API keys and the audit log."""
