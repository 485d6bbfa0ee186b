"""``/api/docs/``: Swagger UI from vendored files (no CDN) over ``/api/schema/``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Airflow Control Panel API</title>
<link rel="stylesheet" href="{css}">
</head>
<body>
<div id="swagger-ui" data-schema-url="{schema}"></div>
<script src="{bundle}"></script>
<script src="{init}"></script>
</body>
</html>
"""


def api_docs(request: HttpRequest) -> HttpResponse:
    """The interactive API documentation."""
    return HttpResponse(
        format_html(
            PAGE,
            css=static("vendor/swagger-ui/swagger-ui.css"),
            schema=reverse("api:schema"),
            bundle=static("vendor/swagger-ui/swagger-ui-bundle.js"),
            init=static("vendor/swagger-ui/panel-init.js"),
        )
    )
