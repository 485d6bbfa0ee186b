"""Trigger forms generated from a DAG's params: one field per param, parsed and validated.

Pure Python (no Django forms): ``fields`` turns stored params into field specs the template
renders; ``submission`` turns the posted strings back into a conf and checks every value
against the schema Airflow will check.
"""

from controlpanel.paramforms.fields import (
    NO_SECTION,
    PREFIX,
    ParamField,
    build_field,
    build_fields,
    default_conf,
    display_text,
    infer_type,
    sections,
    split_type,
)
from controlpanel.paramforms.submission import (
    REQUIRED,
    FieldError,
    Submission,
    friendly_message,
    param_validator,
    parse_submission,
    parse_value,
    schema_errors,
    validate_conf,
)

__all__ = [
    "NO_SECTION",
    "PREFIX",
    "REQUIRED",
    "FieldError",
    "ParamField",
    "Submission",
    "build_field",
    "build_fields",
    "default_conf",
    "display_text",
    "friendly_message",
    "infer_type",
    "param_validator",
    "parse_submission",
    "parse_value",
    "schema_errors",
    "sections",
    "split_type",
    "validate_conf",
]
