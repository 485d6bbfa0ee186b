"""Start a real OpenLDAP server on loopback, for tests: Debian's ``slapd`` with a small directory.

A throwaway directory holds a ``slapd.conf`` (an mdb database under ``dc=example,dc=org``,
the ``memberof`` overlay so users carry Active Directory's ``memberOf`` too) and the data.
The directory has a service account, users under ``ou=people`` and ``groupOfNames`` groups
under ``ou=groups``. Tests change it while it runs with ``modify`` (Debian's ldapmodify).
``ensure_slapd`` installs ``slapd`` and ``ldap-utils`` once when missing and allowed.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.harness.airflow import HarnessError, free_port

SLAPD = "/usr/sbin/slapd"
MODULES = "/usr/lib/ldap"
SCHEMA = "/etc/ldap/schema"
BASE = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PASSWORD = "admin-secret-for-tests"
SERVICE_DN = f"cn=panel,ou=services,{BASE}"
SERVICE_PASSWORD = "panel-secret-for-tests"
PEOPLE = f"ou=people,{BASE}"
# groupOfNames needs a member: every group keeps this placeholder, so it may lose all users.
NOBODY = f"cn=nobody,ou=services,{BASE}"
GROUPS = f"ou=groups,{BASE}"
READY_TIMEOUT = 20.0

SLAPD_CONF = """\
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
include {schema}/nis.schema
modulepath {modules}
moduleload back_mdb
moduleload memberof
pidfile {dir}/slapd.pid
database mdb
suffix "{base}"
rootdn "{admin_dn}"
rootpw {admin_password}
directory {dir}/data
maxsize 104857600
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint true
access to attrs=userPassword by self write by anonymous auth by * none
access to * by dn.exact="{service_dn}" read by self read by * none
"""


def ensure_slapd() -> None:
    """Install Debian's slapd and ldap-utils when missing (as root, non-interactively)."""
    if Path(SLAPD).is_file() and shutil.which("ldapmodify"):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise HarnessError("slapd is missing: install Debian's slapd and ldap-utils")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "slapd", "ldap-utils"],
    ):
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise HarnessError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")


def user_dn(uid: str) -> str:
    """The DN of a user in the test directory."""
    return f"uid={uid},{PEOPLE}"


def group_dn(cn: str) -> str:
    """The DN of a group in the test directory."""
    return f"cn={cn},{GROUPS}"


def _user_ldif(uid: str, password: str) -> str:
    return (
        f"dn: {user_dn(uid)}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid.title()}\n"
        f"sn: {uid.title()}\nmail: {uid}@example.invalid\nuserPassword: {password}\n\n"
    )


def _group_ldif(cn: str, members: list[str]) -> str:
    lines = [f"member: {NOBODY}", *(f"member: {user_dn(uid)}" for uid in members)]
    return f"dn: {group_dn(cn)}\nobjectClass: groupOfNames\ncn: {cn}\n" + "\n".join(lines) + "\n\n"


@dataclass
class LdapServer:
    """A running slapd: its URI, the panel's service account, and a way to change the data."""

    uri: str
    workdir: Path
    process: subprocess.Popen[bytes]

    def modify(self, ldif: str) -> None:
        """Apply an LDIF change as the directory's administrator (``ldapmodify``)."""
        result = subprocess.run(
            ["ldapmodify", "-x", "-H", self.uri, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD],
            input=ldif,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise HarnessError(f"ldapmodify failed: {result.stderr}")

    def add_to_group(self, cn: str, uid: str) -> None:
        """Make a user a member of a group."""
        self.modify(
            f"dn: {group_dn(cn)}\nchangetype: modify\nadd: member\nmember: {user_dn(uid)}\n"
        )

    def remove_from_group(self, cn: str, uid: str) -> None:
        """Take a user out of a group."""
        self.modify(
            f"dn: {group_dn(cn)}\nchangetype: modify\ndelete: member\nmember: {user_dn(uid)}\n"
        )

    def set_members(self, cn: str, uids: list[str]) -> None:
        """Make ``uids`` the group's only members."""
        members = "".join(f"member: {dn}\n" for dn in [NOBODY, *map(user_dn, uids)])
        self.modify(f"dn: {group_dn(cn)}\nchangetype: modify\nreplace: member\n{members}")

    def stop(self) -> None:
        """Stop slapd (and wait for it)."""
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def write_certificates(workdir: Path) -> Path:
    """A throwaway CA and a certificate it signed for 127.0.0.1; returns the CA's PEM file.

    The server's certificate and key go to ``server.pem`` and ``server-key.pem``.
    """
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test directory CA")])
    ca = (
        _certificate(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    loopback = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    server = (
        _certificate(name, ca_name, key.public_key(), now)
        .add_extension(loopback, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (workdir / "server.pem").write_bytes(server.public_bytes(pem))
    plain = serialization.NoEncryption()
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, plain)
    (workdir / "server-key.pem").write_bytes(key_pem)
    (workdir / "ca.pem").write_bytes(ca.public_bytes(pem))
    return workdir / "ca.pem"


def _certificate(
    subject: x509.Name, issuer: x509.Name, key: Any, now: datetime.datetime
) -> x509.CertificateBuilder:
    """A certificate valid for a day, before its extensions and signature."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


TLS_CONF = """\
TLSCACertificateFile {dir}/ca.pem
TLSCertificateFile {dir}/server.pem
TLSCertificateKeyFile {dir}/server-key.pem
"""


def start_slapd(
    workdir: Path, users: dict[str, str], groups: dict[str, list[str]], *, tls: bool = False
) -> LdapServer:
    """Start slapd on a free loopback port with ``users`` (uid -> password) and ``groups``.

    ``groups`` maps each group's cn to its members' uids. ``tls``: it offers StartTLS with
    a certificate from a throwaway CA (``workdir/ca.pem``). Waits until it answers.
    """
    ensure_slapd()
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    conf = workdir / "slapd.conf"
    tls_conf = ""
    if tls:
        write_certificates(workdir)
        tls_conf = TLS_CONF.format(dir=workdir)
    conf.write_text(
        tls_conf
        + SLAPD_CONF.format(
            schema=SCHEMA,
            modules=MODULES,
            dir=workdir,
            base=BASE,
            admin_dn=ADMIN_DN,
            admin_password=ADMIN_PASSWORD,
            service_dn=SERVICE_DN,
        )
    )
    port = free_port()
    uri = f"ldap://127.0.0.1:{port}"
    log = open(workdir / "slapd.log", "wb")  # noqa: SIM115 (kept open for the process)
    process = subprocess.Popen(
        [SLAPD, "-d", "0", "-f", str(conf), "-h", uri], stdout=log, stderr=subprocess.STDOUT
    )
    server = LdapServer(uri=uri, workdir=workdir, process=process)
    _wait_until_ready(server)
    server.modify(_initial_ldif(users, groups))
    return server


def _initial_ldif(users: dict[str, str], groups: dict[str, list[str]]) -> str:
    """The base entries, the service account, the users and the groups, as ldapmodify adds."""
    entries = [
        f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\n"
        "o: Example\n\n",
        f"dn: ou=services,{BASE}\nobjectClass: organizationalUnit\nou: services\n\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n\n",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: panel\nuserPassword: {SERVICE_PASSWORD}\n\n",
        f"dn: {NOBODY}\nobjectClass: organizationalRole\ncn: nobody\n\n",
        *(_user_ldif(uid, password) for uid, password in users.items()),
        *(_group_ldif(cn, members) for cn, members in groups.items()),
    ]
    return "".join(_as_add(entry) for entry in entries)


def _as_add(entry: str) -> str:
    """An LDIF entry as an ldapmodify add record."""
    first, rest = entry.split("\n", 1)
    return f"{first}\nchangetype: add\n{rest}"


def _wait_until_ready(server: LdapServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        probe = subprocess.run(
            [
                "ldapsearch",
                "-x",
                "-H",
                server.uri,
                "-D",
                ADMIN_DN,
                "-w",
                ADMIN_PASSWORD,
                "-b",
                "",
                "-s",
                "base",
                "namingContexts",
            ],
            capture_output=True,
        )
        if probe.returncode == 0:
            return
        time.sleep(0.2)
    server.stop()
    raise HarnessError(
        f"slapd did not start:\n{(server.workdir / 'slapd.log').read_text()[-3000:]}"
    )


def panel_settings(server: LdapServer) -> dict[str, object]:
    """The panel's LDAP_* settings for this server (group type groupOfNames)."""
    return {
        "LDAP_SERVER_URI": server.uri,
        "LDAP_BIND_DN": SERVICE_DN,
        "LDAP_BIND_PASSWORD": SERVICE_PASSWORD,
        "LDAP_USER_SEARCH_BASE": PEOPLE,
        "LDAP_USER_FILTER": "(uid=%(user)s)",
        "LDAP_GROUP_SEARCH_BASE": GROUPS,
        "LDAP_GROUP_TYPE": "groupOfNames",
        "LDAP_TIMEOUT_SECONDS": 5.0,
    }
