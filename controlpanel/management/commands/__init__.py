"""``manage.py`` commands: audit verification and encryption key rotation."""
