"""The REST API for external systems: thin DRF views over the services and permissions.

Views parse input, ask ``controlpanel.permissions.access_for``, call one service and
serialize the result; access rules and audit live in the services.
"""
