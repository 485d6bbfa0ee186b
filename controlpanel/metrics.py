"""Prometheus metrics shared by every process of the panel: counters kept in Redis.

The gunicorn workers, the Celery worker and beat are separate processes (often separate
containers); Airflow calls and polls happen in the worker while ``/metrics`` is served by the
web. So every observation is one pipelined write of HINCRBY / HINCRBYFLOAT to a Redis hash
per metric (``panel:metrics:<name>``, one field per label set; a histogram keeps one field
per bucket and a sum), and a scrape reads them back with ``prometheus_client``. Gauges that
describe state (active runs, last successful poll) are computed from the database at scrape
time instead. Recording never raises: with Redis down an observation is dropped and Redis is
not asked again for a few seconds, so metrics never slow down or break a request or a poll.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from controlpanel.models import AirflowProfile, PollStatus, Run
from dags_api import CallObserver

log = logging.getLogger(__name__)

KEY_PREFIX = "panel:metrics:"
# After a failed write, observations are dropped this long instead of waiting on Redis again.
REDIS_DOWN_SECONDS = 5.0
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNKNOWN_PROFILE = "unknown"
Pipeline = redis.client.Pipeline


@dataclass(frozen=True)
class Counter:
    """A counter: one hash field per label set."""

    name: str  # without the "_total" that the exposition adds
    documentation: str
    labels: tuple[str, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return (KEY_PREFIX + self.name,)

    def inc(self, pipe: Pipeline, *values: str) -> None:
        pipe.hincrby(self.keys[0], _field(values), 1)

    def collect(self, counts: dict[str, str]) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for field, count in sorted(counts.items()):
            values = _values(field, len(self.labels))
            if values is not None:
                family.add_metric(values, float(count))
        return family


@dataclass(frozen=True)
class Histogram:
    """A histogram: per label set, one field per bucket (not cumulative) and one sum."""

    name: str
    documentation: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return (f"{KEY_PREFIX}{self.name}:buckets", f"{KEY_PREFIX}{self.name}:sum")

    @property
    def bounds(self) -> list[str]:
        return [floatToGoString(bound) for bound in self.buckets] + ["+Inf"]

    def observe(self, pipe: Pipeline, seconds: float, *values: str) -> None:
        bound = next((b for b in self.buckets if seconds <= b), math.inf)
        pipe.hincrby(self.keys[0], _field((*values, floatToGoString(bound))), 1)
        pipe.hincrbyfloat(self.keys[1], _field(values), seconds)

    def collect(self, buckets: dict[str, str], sums: dict[str, str]) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        per_labels: dict[tuple[str, ...], dict[str, int]] = defaultdict(dict)
        for field, count in buckets.items():
            stored = _values(field, len(self.labels) + 1)
            if stored is not None:
                per_labels[tuple(stored[:-1])][stored[-1]] = int(count)
        for label_values, counts in sorted(per_labels.items()):
            running, cumulative = 0, []
            for bound in self.bounds:
                running += counts.get(bound, 0)
                cumulative.append((bound, float(running)))
            total = float(sums.get(_field(label_values), 0.0))
            family.add_metric(list(label_values), cumulative, sum_value=total)
        return family


def _field(values: tuple[str, ...]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


def _values(field: str, length: int) -> list[str] | None:
    """The label values of a stored field; None for one written with other labels."""
    try:
        values = json.loads(field)
    except ValueError:
        return None
    return values if isinstance(values, list) and len(values) == length else None


HTTP_REQUESTS = Counter(
    "panel_http_requests",
    "Requests to the panel by method, view (URL pattern name) and status class.",
    ("method", "view", "status"),
)
HTTP_DURATION = Histogram(
    "panel_http_request_duration_seconds",
    "Time the panel took to answer, by method and view.",
    ("method", "view"),
    (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
AIRFLOW_REQUESTS = Counter(
    "panel_airflow_requests",
    "HTTP requests to Airflow (every attempt) by profile, endpoint template and status "
    "(HTTP status, or timeout, refused, dns, tls, connection).",
    ("profile", "endpoint", "status"),
)
AIRFLOW_DURATION = Histogram(
    "panel_airflow_request_duration_seconds",
    "Time of each HTTP request to Airflow, by profile and endpoint template.",
    ("profile", "endpoint"),
    (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
POLL_CYCLES = Counter(
    "panel_poll_cycles",
    "Poll cycles by profile and outcome (ok, failed, skipped while backing off).",
    ("profile", "outcome"),
)
POLL_DURATION = Histogram(
    "panel_poll_cycle_duration_seconds",
    "Time of one poll cycle (read Airflow, write changes), by profile.",
    ("profile",),
    (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)
DAG_TRIGGERS = Counter(
    "panel_dag_triggers",
    "DAG run triggers by profile and outcome (succeeded, failed, denied), as audited.",
    ("profile", "outcome"),
)
STORED: tuple[Counter | Histogram, ...] = (
    HTTP_REQUESTS,
    HTTP_DURATION,
    AIRFLOW_REQUESTS,
    AIRFLOW_DURATION,
    POLL_CYCLES,
    POLL_DURATION,
    DAG_TRIGGERS,
)


class RedisStore:
    """Writes observations to Redis in one round trip; drops them while Redis is failing."""

    def __init__(self) -> None:
        self._clients: dict[str, redis.Redis] = {}
        self._down_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def client(self) -> redis.Redis:
        """A pooled client per URL (tests and reconfigurations switch it); short timeouts."""
        url = settings.REDIS_URL
        with self._lock:
            if url not in self._clients:
                self._clients[url] = redis.Redis.from_url(
                    url, socket_connect_timeout=0.25, socket_timeout=0.5, decode_responses=True
                )
            return self._clients[url]

    def write(self, commands: Callable[[Pipeline], object]) -> None:
        """Queue ``commands`` on a pipeline and send it; never raises."""
        url = settings.REDIS_URL
        if time.monotonic() < self._down_until.get(url, 0.0):
            return
        try:
            pipe = self.client().pipeline(transaction=False)
            commands(pipe)
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self._down_until[url] = time.monotonic() + REDIS_DOWN_SECONDS
            log.warning("metrics dropped for %g s: Redis failed (%s)", REDIS_DOWN_SECONDS, exc)
        except Exception:
            log.exception("metrics dropped: recording failed")

    def read(self, keys: list[str]) -> list[dict[str, str]] | None:
        """HGETALL of each key in one round trip, or None when Redis cannot be read."""
        try:
            pipe = self.client().pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(key)
            return list(pipe.execute())
        except Exception as exc:
            log.warning("metrics could not be read from Redis (%s)", exc)
            return None


store = RedisStore()


# --- recording ---------------------------------------------------------------------------


class RequestMetricsMiddleware:
    """Counts and times every request by method, view name and status class."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        response = self.get_response(request)
        seconds = time.monotonic() - started
        method = request.method if request.method in KNOWN_METHODS else "other"
        match = request.resolver_match
        if match is not None and match.view_name:
            view = match.view_name
        else:  # WhiteNoise answers static files before any URL is resolved
            view = "static" if request.path.startswith(settings.STATIC_URL) else "unmatched"
        status = f"{response.status_code // 100}xx"

        def commands(pipe: Pipeline) -> None:
            HTTP_REQUESTS.inc(pipe, str(method), view, status)
            HTTP_DURATION.observe(pipe, seconds, str(method), view)

        store.write(commands)
        return response


def airflow_call_observer(profile_slug: str) -> CallObserver:
    """The ``on_call`` hook of a profile's Airflow client: counts and times each request."""

    def observe(method: str, endpoint: str, status: str, seconds: float) -> None:
        label = f"{method} {endpoint}"

        def commands(pipe: Pipeline) -> None:
            AIRFLOW_REQUESTS.inc(pipe, profile_slug, label, status)
            AIRFLOW_DURATION.observe(pipe, seconds, profile_slug, label)

        store.write(commands)

    return observe


def record_poll_cycle(profile_slug: str, outcome: str, seconds: float) -> None:
    """One poll cycle: its outcome, and its duration unless it was skipped."""

    def commands(pipe: Pipeline) -> None:
        POLL_CYCLES.inc(pipe, profile_slug, outcome)
        if outcome != "skipped":
            POLL_DURATION.observe(pipe, seconds, profile_slug)

    store.write(commands)


def count_trigger(profile_slug: str, outcome: str, *, known_profile: bool = False) -> None:
    """One audited trigger. A slug that names no profile (typed into a URL) is "unknown".

    ``known_profile``: the caller had the profile itself, so the slug needs no lookup.
    """
    try:
        if not known_profile and not AirflowProfile.objects.filter(slug=profile_slug).exists():
            profile_slug = UNKNOWN_PROFILE
    except Exception:
        log.warning("trigger not counted", exc_info=True)
        return
    store.write(lambda pipe: DAG_TRIGGERS.inc(pipe, profile_slug, outcome))


# --- scraping ----------------------------------------------------------------------------


class PanelCollector:
    """Yields the stored counters and histograms, and gauges read from the database."""

    def collect(self) -> Iterator[Metric]:
        keys = [key for metric in STORED for key in metric.keys]
        hashes = store.read(keys)
        up = GaugeMetricFamily(
            "panel_metrics_store_up", "1 when the metrics in Redis could be read, else 0."
        )
        up.add_metric([], 0.0 if hashes is None else 1.0)
        yield up
        if hashes is not None:
            found = iter(hashes)
            for metric in STORED:
                if isinstance(metric, Counter):
                    yield metric.collect(next(found))
                else:
                    yield metric.collect(next(found), next(found))
        yield from database_gauges()


def database_gauges() -> Iterator[Metric]:
    """Active runs and the last successful poll of each active profile."""
    active = GaugeMetricFamily(
        "panel_active_runs", "Runs the panel tracks that have not finished.", labels=["profile"]
    )
    counts = dict.fromkeys(
        AirflowProfile.objects.filter(is_active=True).values_list("slug", flat=True), 0
    )
    for slug, count in (
        Run.objects.filter(is_finished=False)
        .values_list("profile__slug")
        .annotate(count=Count("id"))
        .order_by()
    ):
        counts[slug] = count
    for slug, count in sorted(counts.items()):
        active.add_metric([slug], float(count))
    yield active
    last_poll = GaugeMetricFamily(
        "panel_poll_last_success_timestamp_seconds",
        "When each active profile was last polled successfully (Unix time).",
        labels=["profile"],
    )
    for slug, when in PollStatus.objects.filter(
        profile__is_active=True, last_success_at__isnull=False
    ).values_list("profile__slug", "last_success_at"):
        if when is not None:
            last_poll.add_metric([slug], when.timestamp())
    yield last_poll


def render_metrics() -> bytes:
    """The Prometheus text exposition of every panel metric."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PanelCollector())
    return generate_latest(registry)
