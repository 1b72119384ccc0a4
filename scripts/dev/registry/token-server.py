#!/usr/bin/env python3
"""Bearer-token server for an offline docker-registry (distribution token auth, ES256 JWTs).

Usage: token-server.py DIR [--users FILE] [--no-anonymous]

On start it makes DIR/token-key.pem + DIR/token-cert.pem (EC P-256, self-signed) unless they
exist, binds 127.0.0.1 on a free port, writes the port to DIR/token.port and serves
    GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=…][&account=U]
Answers {"token", "access_token", "expires_in": 300, "issued_at"}.
  - Basic credentials matching a "user:password" line of --users: every requested action.
  - Wrong Basic credentials: 401.
  - No credentials: pull only (401 with --no-anonymous).
Every request is appended to DIR/token-requests.log as one JSON object per line:
  {"scope": [...], "service": ..., "account": ..., "auth": "none"|"basic-ok"|"basic-bad", "status": N}
The registry's config points at it with
  auth: {token: {realm: http://127.0.0.1:PORT/token, service: bocker-test-registry,
                 issuer: bocker-test-issuer, rootcertbundle: DIR/token-cert.pem}}
"""
import base64
import datetime
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

SERVICE = "bocker-test-registry"
ISSUER = "bocker-test-issuer"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def make_key_and_cert(d):
    key_path, cert_path = os.path.join(d, "token-key.pem"), os.path.join(d, "token-cert.pem")
    if os.path.exists(key_path) and os.path.exists(cert_path):
        key = serialization.load_pem_private_key(open(key_path, "rb").read(), None)
        cert = x509.load_pem_x509_certificate(open(cert_path, "rb").read())
        return key, cert
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def make_jwt(key, cert, subject, access):
    header = {"typ": "JWT", "alg": "ES256",
              "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]}
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + 300, "nbf": now - 10,
              "iat": now, "jti": uuid.uuid4().hex, "access": access}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    d = os.path.abspath(args[0])
    users, anonymous = {}, True
    i = 1
    while i < len(args):
        if args[i] == "--users":
            for line in open(args[i + 1]):
                line = line.rstrip("\n")
                if ":" in line:
                    u, p = line.split(":", 1)
                    users[u] = p
            i += 2
        elif args[i] == "--no-anonymous":
            anonymous = False
            i += 1
        else:
            sys.exit(f"token-server.py: unknown argument {args[i]}")
    key, cert = make_key_and_cert(d)
    log_lock = threading.Lock()
    log_path = os.path.join(d, "token-requests.log")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, status, obj, entry):
            body = json.dumps(obj).encode()
            # Log first: a client that reads the log after its answer must find the line.
            entry["status"] = status
            with log_lock, open(log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="bocker-test-token"')
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            u = urlparse(self.path)
            q = parse_qs(u.query)
            scopes = [s for v in q.get("scope", []) for s in v.split(" ") if s]
            entry = {"path": u.path, "scope": scopes, "service": q.get("service", [None])[0],
                     "account": q.get("account", [None])[0], "auth": "none"}
            if u.path != "/token":
                return self.reply(404, {"error": "not found"}, entry)
            subject, full = "", False
            h = self.headers.get("Authorization", "")
            if h.lower().startswith("basic "):
                try:
                    user, pw = base64.b64decode(h[6:]).decode().split(":", 1)
                except Exception:
                    user, pw = None, None
                if user in users and users[user] == pw:
                    entry["auth"], subject, full = "basic-ok", user, True
                else:
                    entry["auth"] = "basic-bad"
                    return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}, entry)
            elif not anonymous:
                return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "credentials required"}]}, entry)
            access = []
            for s in scopes:
                parts = s.split(":")
                if len(parts) < 3:
                    continue
                typ, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
                granted = [a for a in actions if full or a == "pull"]
                access.append({"type": typ, "name": name, "actions": granted})
            token = make_jwt(key, cert, subject, access)
            issued = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.reply(200, {"token": token, "access_token": token, "expires_in": 300, "issued_at": issued}, entry)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_file = os.path.join(d, "token.port")
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
