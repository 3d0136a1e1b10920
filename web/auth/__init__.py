"""Console authentication: passwords, sessions, CSRF, login throttling, accounts, and the
middleware that decides who may reach which route."""
