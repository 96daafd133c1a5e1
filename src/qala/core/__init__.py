"""The shared kernel: cities, users, auth, database, events, i18n, errors, module registry."""
