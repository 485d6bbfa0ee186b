"""Management commands of the control panel."""
