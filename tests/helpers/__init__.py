"""Helpers shared by test modules. A test module imports helpers from here, never from
another test module (which would also collect that module's tests a second time)."""
