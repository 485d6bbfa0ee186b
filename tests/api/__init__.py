"""Tests of the REST API (controlpanel/api)."""
