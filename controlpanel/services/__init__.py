"""Business rules: every state change goes through a function here.

Each one runs inside ``controlpanel.audit.audited``: it checks access there with
``controlpanel.permissions.require`` and makes its change, and ``audited`` writes the event,
succeeded in the change's transaction, denied or failed after it rolled back.
"""
