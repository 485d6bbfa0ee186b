"""Reading the panel's Prometheus metrics in tests."""

from __future__ import annotations

from django.test import Client
from prometheus_client.parser import text_string_to_metric_families


def scrape(
    client: Client | None = None, remote_addr: str = "127.0.0.1", authorization: str = ""
) -> dict[tuple[str, tuple], float]:
    """GET /metrics and parse it: {(sample name, sorted labels): value}."""
    response = (client or Client()).get(
        "/metrics", REMOTE_ADDR=remote_addr, HTTP_AUTHORIZATION=authorization
    )
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple], float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))
