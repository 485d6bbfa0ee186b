"""Start a real OpenID Connect provider on loopback, for tests: the npm ``oidc-provider``.

It runs with the machine's Node.js from ``tests/harness/oidc_provider.mjs``; the package is
installed once with npm into ``~/.cache/airflow-control-panel/oidc-provider-<version>/``
(``python -m tests.harness.oidc install`` does it ahead, as ``scripts/test`` does). Its dev
interactions are the login page: any password, the login names the account, whose claims
come from a JSON file the test may rewrite between sign-ins.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness.airflow import CACHE_ROOT, HarnessError, free_port

OIDC_PROVIDER_VERSION = os.environ.get("TEST_OIDC_PROVIDER_VERSION", "9.13.3")
SCRIPT = Path(__file__).resolve().parent / "oidc_provider.mjs"
READY_TIMEOUT = 30.0


def ensure_oidc_provider(version: str = OIDC_PROVIDER_VERSION) -> Path:
    """The cached ``node_modules`` directory holding oidc-provider, installed on first use.

    A file lock makes concurrent callers wait for one install.
    """
    home = CACHE_ROOT / f"oidc-provider-{version}"
    modules = home / "node_modules"
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / f".oidc-provider-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (modules / "oidc-provider" / "package.json").is_file():
            return modules
        if shutil.which("npm") is None or shutil.which("node") is None:
            raise HarnessError("Node.js and npm are needed for the OpenID Connect tests.")
        home.mkdir(parents=True, exist_ok=True)
        (home / "package.json").write_text('{"private": true}\n')
        cmd = ["npm", "install", "--no-audit", "--no-fund", "--save-exact"]
        result = subprocess.run(
            [*cmd, f"oidc-provider@{version}"], cwd=home, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise HarnessError(f"npm install oidc-provider failed:\n{result.stderr[-3000:]}")
    return modules


@dataclass
class OidcProvider:
    """A running provider: its issuer URL, the client the panel uses, and its accounts."""

    issuer: str
    client_id: str
    client_secret: str
    accounts_file: Path
    process: subprocess.Popen[bytes]
    log_file: Path
    token_log: Path | None = None
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def token_auth_methods(self) -> list[str]:
        """How each token request so far authenticated the client, oldest first."""
        if self.token_log is None or not self.token_log.exists():
            return []
        return self.token_log.read_text().split()

    def set_account(self, sub: str, **claims: Any) -> None:
        """Create or replace an account (read by the provider at its next sign-in)."""
        self.accounts[sub] = claims
        self.accounts_file.write_text(json.dumps(self.accounts))

    def stop(self) -> None:
        """Stop the provider (and wait for it)."""
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def start_oidc_provider(
    workdir: Path,
    redirect_uris: list[str],
    *,
    token_auth_method: str = "client_secret_basic",  # noqa: S107
    host: str = "127.0.0.1",
    jwks: dict[str, Any] | None = None,
) -> OidcProvider:
    """Start a provider on a free loopback port for one client; wait until it answers.

    ``host`` names it in its issuer (``localhost`` makes an issuer that differs from the
    ``127.0.0.1`` address it is reached at); ``jwks`` gives it its own signing keys.
    """
    modules = ensure_oidc_provider()
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    issuer = f"http://{host}:{port}"
    client: dict[str, Any] = {
        "client_id": "control-panel",
        "client_secret": "control-panel-secret-for-tests",
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": token_auth_method,
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }
    accounts_file = workdir / "accounts.json"
    accounts_file.write_text("{}")
    config = {
        "issuer": issuer,
        "port": port,
        "clients": [client],
        "accounts_file": str(accounts_file),
        "token_log": str(workdir / "token-auth.log"),
    }
    if jwks is not None:
        config["jwks"] = jwks
    config_file = workdir / "provider.json"
    config_file.write_text(json.dumps(config))
    log_file = workdir / "provider.log"
    env = {**os.environ, "OIDC_PROVIDER_MODULES": str(modules), "NODE_ENV": "development"}
    with open(log_file, "wb") as log:
        process = subprocess.Popen(
            ["node", str(SCRIPT), str(config_file)],
            cwd=modules.parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    provider = OidcProvider(
        issuer=issuer,
        client_id=client["client_id"],
        client_secret=client["client_secret"],
        accounts_file=accounts_file,
        process=process,
        log_file=log_file,
        token_log=workdir / "token-auth.log",
    )
    _wait_until_ready(provider, f"http://127.0.0.1:{port}")
    return provider


def _wait_until_ready(provider: OidcProvider, base: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if provider.process.poll() is not None:
            break
        discovery = f"{base}/.well-known/openid-configuration"
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(discovery, timeout=2),  # noqa: S310 (http://127.0.0.1 only)
        ):
            return
        time.sleep(0.2)
    provider.stop()
    raise HarnessError(f"oidc-provider did not start:\n{provider.log_file.read_text()[-3000:]}")


if __name__ == "__main__":
    if sys.argv[1:] == ["install"]:
        print(ensure_oidc_provider())
    else:
        sys.exit("usage: python -m tests.harness.oidc install")
