"""A real OpenLDAP server (Debian's slapd) on loopback for the sign-in tests: LDAPS and StartTLS with a test CA
made here, people and groups under dc=lab,dc=example, and helpers to change group membership between logins."""
from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SLAPD = "/usr/sbin/slapd"
SUFFIX = "dc=lab,dc=example"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "root-secret-1"
SERVICE_DN = f"cn=folddeck-svc,ou=services,{SUFFIX}"
SERVICE_PW = "service-secret-1"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
PASSWORDS = {"dana": "dana-ldap-pw-1", "erik": "erik-ldap-pw-1", "fay": "fay-ldap-pw-1"}
MEMBERS = {"folddeck-users": ["dana", "erik"], "folddeck-admins": ["erik"]}
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")


def available() -> bool:
    return Path(SLAPD).exists() and shutil.which("slapadd") is not None


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_pki(folder: Path, expired: bool = False) -> tuple[Path, Path, Path]:
    """Write a test CA and a server certificate for 127.0.0.1 signed by it; return (ca, cert, key) paths."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "FoldDeck test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=30))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = ((now - datetime.timedelta(days=20), now - datetime.timedelta(days=1)) if expired
                  else (now - datetime.timedelta(days=1), now + datetime.timedelta(days=20)))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(_pem(ca))
    paths[1].write_bytes(_pem(cert))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def _ldif() -> str:
    entries = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: lab\no: Lab",
               f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people",
               f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups",
               f"dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services",
               f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
               f"cn: folddeck-svc\nuserPassword: {SERVICE_PW}"]
    for name, password in PASSWORDS.items():
        entries.append(f"dn: uid={name},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {name}\ncn: {name.title()}\n"
                       f"sn: {name.title()}\nmail: {name}@lab.example\nuserPassword: {password}")
    for group, names in MEMBERS.items():
        members = "\n".join(f"member: uid={n},{PEOPLE}" for n in names)
        entries.append(f"dn: cn={group},{GROUPS}\nobjectClass: groupOfNames\ncn: {group}\n{members}")
    return "\n\n".join(entries) + "\n"


def _conf(folder: Path, ca: Path, cert: Path, key: Path) -> str:
    includes = "\n".join(f"include /etc/ldap/schema/{s}.schema" for s in SCHEMAS)
    return f"""{includes}
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {folder}/slapd.pid
TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
database mdb
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PW}
directory {folder}/db
maxsize 10485760
access to attrs=userPassword by self =xw by anonymous auth by * none
access to * by users read by * none
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Slapd:
    folder: Path
    ca: Path
    ldap_port: int
    ldaps_port: int
    process: subprocess.Popen

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    @property
    def ldap_url(self) -> str:
        return f"ldap://127.0.0.1:{self.ldap_port}"

    def stop(self) -> None:
        """Stop slapd (again is fine: a test may stop it to see the directory down)."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def set_members(self, group: str, names: list[str]) -> None:
        """Replace the members of a group (as the directory's root; the test's stand-in for the IT office)."""
        from ldap3 import MODIFY_REPLACE, Connection, Server

        with Connection(Server("127.0.0.1", port=self.ldap_port), ROOT_DN, ROOT_PW, auto_bind=True) as conn:
            conn.modify(f"cn={group},{GROUPS}", {"member": [(MODIFY_REPLACE, [f"uid={n},{PEOPLE}" for n in names])]})
            assert conn.result["result"] == 0, conn.result


def start(folder: Path, expired_cert: bool = False, timeout: float = 20) -> Slapd:
    """Load the directory and start slapd on two free loopback ports; return once it answers."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "db").mkdir()
    ca, cert, key = make_pki(folder, expired=expired_cert)
    conf = folder / "slapd.conf"
    conf.write_text(_conf(folder, ca, cert, key))
    (folder / "data.ldif").write_text(_ldif())
    subprocess.run(["slapadd", "-f", str(conf), "-l", str(folder / "data.ldif")], check=True, capture_output=True)
    ldap_port, ldaps_port = _port(), _port()
    log = (folder / "slapd.log").open("wb")
    process = subprocess.Popen([SLAPD, "-f", str(conf), "-d", "0",
                                "-h", f"ldap://127.0.0.1:{ldap_port}/ ldaps://127.0.0.1:{ldaps_port}/"],
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", ldap_port), timeout=1).close()
            socket.create_connection(("127.0.0.1", ldaps_port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"slapd did not start: {(folder / 'slapd.log').read_text()[-2000:]}") from None
            time.sleep(0.05)
    return Slapd(folder, ca, ldap_port, ldaps_port, process)
