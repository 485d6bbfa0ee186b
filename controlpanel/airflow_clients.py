"""One pooled Airflow client per connection profile and process.

Clients are rebuilt when the profile's connection details change, so an edited URL or a
rotated password takes effect at once. They live long, so on Airflow 2 they log in once and
send the session cookie (``login_session``) instead of paying the password check per request.
Each client reports its requests to the metrics, labelled with the profile's slug.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading

from controlpanel.metrics import airflow_call_observer
from controlpanel.models import AirflowProfile
from dags_api import AirflowClient

_clients: dict[int, tuple[str, AirflowClient]] = {}
_lock = threading.Lock()


def _fingerprint(profile: AirflowProfile) -> str:
    parts = [
        profile.slug,  # the metrics label
        profile.base_url,
        profile.auth_type,
        profile.username,
        profile.secret_encrypted,
        str(profile.verify_tls),
        profile.ca_bundle,
        str(profile.timeout_seconds),
        str(profile.allow_insecure_http),
    ]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def client_for(profile: AirflowProfile) -> AirflowClient:
    """The client for ``profile`` (raises dags_api errors such as InsecureConnectionError)."""
    fingerprint = _fingerprint(profile)
    with _lock:
        cached = _clients.get(profile.pk)
        if cached and cached[0] == fingerprint and _speaks(cached[1], profile.api_version):
            return cached[1]
        # Long-lived: worth one login on Airflow 2 instead of a password check per request.
        settings = dataclasses.replace(profile.connection_settings(), login_session=True)
        client = AirflowClient(settings, on_call=airflow_call_observer(profile.slug))
        _clients[profile.pk] = (fingerprint, client)
    if cached:
        cached[1].close()
    return client


def _speaks(client: AirflowClient, setting: str) -> bool:
    """True when the client uses the API the profile names (or the profile says "detect").

    Storing what a client detected therefore keeps the client and its login.
    """
    return setting == AirflowProfile.ApiVersion.AUTO or client.known_api_version == setting


def forget_client(profile_id: int) -> None:
    """Close and drop a profile's client (the profile was deleted or deactivated)."""
    with _lock:
        cached = _clients.pop(profile_id, None)
    if cached:
        cached[1].close()
