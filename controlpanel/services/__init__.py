"""Business rules: every state change goes through a function here.

Each one checks access with ``controlpanel.permissions``, runs in a transaction and writes
its audit event (``controlpanel.audit.record_event``) in that same transaction; denied and
failed attempts are recorded too.
"""
