"""Job mail over STARTTLS and implicit SSL to a real aiosmtpd server with a test certificate,
verified like any server's (the test CA comes in through SSL_CERT_FILE), with SMTP login."""
from __future__ import annotations

import datetime
import ssl

import pytest

from services.notify.prefs import NotifyPrefs, set_prefs
from services.notify.sender import Sender
from tests.conftest import free_port
from tests.services.test_notify_mail import Inbox, mail_settings, run_job

pytestmark = pytest.mark.service  # a real SMTP server (aiosmtpd) on loopback


@pytest.fixture
def certificate(tmp_path, monkeypatch):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # the client trusts it like a system CA
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def _authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    return AuthResult(success=(auth_data.login, auth_data.password) == (b"folddeck", b"mail-secret"))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")  # see the ssl case
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_mail_over_tls_with_login(settings, conn, alice, certificate, security):
    from aiosmtpd.controller import Controller

    inbox, port = Inbox(), free_port()
    options = ({"tls_context": certificate, "require_starttls": True} if security == "starttls"
               # aiosmtpd cannot tell an implicit-TLS session is encrypted, so it would hide AUTH
               else {"ssl_context": certificate, "auth_require_tls": False})
    controller = Controller(inbox, hostname="localhost", port=port, authenticator=_authenticator,
                            auth_required=True, server_hostname="localhost", **options)
    controller.start()
    try:
        set_prefs(conn, alice.id, NotifyPrefs(email="alice@lab.example"))
        s = mail_settings(settings, port).with_overrides(smtp_host="localhost", smtp_security=security,
                                                         smtp_user="folddeck", smtp_password="mail-secret")
        job = run_job(s, conn, alice)
        delivered = Sender(s).run_once(conn)
        assert delivered == 1, conn.execute("SELECT last_error FROM outbox").fetchone()[0]
        assert inbox.messages[0]["Subject"] == f"[FoldDeck] Job {job.id} (Mail test) succeeded"
    finally:
        controller.stop()


def test_webhook_over_https_is_verified_and_arrives(settings, conn, alice, admin, certificate):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from services.notify import webhooks

    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append((self.headers, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = certificate.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        origin = f"https://localhost:{server.server_port}"
        webhooks.allow_origin(conn, admin, origin)
        _, secret = webhooks.add_webhook(conn, alice, origin + "/hook")
        run_job(settings, conn, alice)
        assert Sender(settings).run_once(conn) == 1, conn.execute("SELECT last_error FROM outbox").fetchone()
        ((headers, raw),) = received
        assert webhooks.verify(secret, headers["X-FoldDeck-Signature"], raw) and headers["X-FoldDeck-Delivery"]
    finally:
        server.shutdown()
        server.server_close()
