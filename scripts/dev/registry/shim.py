#!/usr/bin/env python3
"""A misbehaving front for an offline docker-registry, to test a pull client's error handling.

Usage: shim.py DIR NAME --upstream PORT --mode MODE [--storage REGISTRY_DATA_DIR]

Listens on 127.0.0.1 (free port, written to DIR/shim-NAME.port; for --mode redirect also a second
"CDN" port in DIR/shim-NAME.cdnport) and forwards every request to 127.0.0.1:UPSTREAM, except
that blob GETs (/v2/<name>/blobs/sha256:…) are tampered with according to MODE:
  proxy          none (just logs)
  redirect       307 to http://localhost:CDN_PORT/cdn/<digest>?sig=… ; the CDN listener serves the
                 blob from the registry's storage (--storage) and, like S3 presigned URLs, answers
                 400 "Only one auth mechanism allowed" to a request carrying Authorization — and
                 records it in DIR/shim-NAME.violations (a pull client must never send it there)
  corrupt        flips one byte in the middle of the body (same length: only the digest is wrong);
                 manifest GETs are corrupted the same way (Docker-Content-Digest is left as it was)
  short          sends the body minus its last byte, with a matching Content-Length
  truncate-once  the first GET of each blob announces the full Content-Length, sends half the body
                 and drops the connection; later GETs (with Range or not) are forwarded
  fail-once      the first request of each blob or manifest path gets 503 (JSON error body);
                 the next is forwarded
  huge-manifest  manifest GETs get a 5 MiB OCI manifest (with Content-Length); a client must
                 refuse it
  stall          blob GETs get their headers and half the body, then nothing more (the connection
                 stays open); blob upload PUTs and PATCHes are read and never answered: a client
                 with a time limit must give up (the Host header is passed on, as below)
  drop-upload-once  the first blob upload PUT or PATCH of each repository: half its body is read,
                 then the connection is dropped without an answer (a push client must start again);
                 the Host header is passed on, so upload Locations point back at the shim
Every request is logged to DIR/shim-NAME.log, one JSON object per line:
  {"listener": "main"|"cdn", "method", "path", "authorization": bool, "range": str|null, "status"}
"""
import http.client
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOB_RE = re.compile(r"^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$")
MANIFEST_RE = re.compile(r"^/v2/(.+)/manifests/([^/]+)$")
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate", "content-length", "host"}


def main():
    args = sys.argv[1:]
    if len(args) < 2 or args[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    d, name = os.path.abspath(args[0]), args[1]
    opts = {"--upstream": None, "--mode": "proxy", "--storage": None}
    i = 2
    while i < len(args):
        if args[i] not in opts or i + 1 >= len(args):
            sys.exit(f"shim.py: bad argument {args[i]}")
        opts[args[i]] = args[i + 1]
        i += 2
    upstream, mode, storage = int(opts["--upstream"]), opts["--mode"], opts["--storage"]
    if mode not in ("proxy", "redirect", "corrupt", "short", "truncate-once", "fail-once", "huge-manifest", "stall",
                    "drop-upload-once"):
        sys.exit(f"shim.py: unknown mode {mode}")
    if mode == "redirect" and not storage:
        sys.exit("shim.py: --mode redirect needs --storage REGISTRY_DATA_DIR")
    lock = threading.Lock()
    seen = set()
    log_path = os.path.join(d, f"shim-{name}.log")
    violations_path = os.path.join(d, f"shim-{name}.violations")
    cdn_port = [0]

    def log(entry):
        with lock, open(log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def first_time(key):
        with lock:
            if key in seen:
                return False
            seen.add(key)
            return True

    class Main(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def entry(self, status, listener="main"):
            return {"listener": listener, "method": self.command, "path": self.path,
                    "authorization": "Authorization" in self.headers,
                    "range": self.headers.get("Range"), "status": status}

        def send_body(self, status, headers, body, head_only=False):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head_only:
                self.wfile.write(body)

        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            req_body = self.rfile.read(length) if length else None
            conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            if mode in ("drop-upload-once", "stall") and self.headers.get("Host"):
                headers["Host"] = self.headers["Host"]
            conn.request(self.command, self.path, body=req_body, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            out_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP]
            if self.command == "HEAD":
                cl = resp.getheader("Content-Length")
                if cl:
                    out_headers.append(("Content-Length", cl))
            conn.close()
            return resp.status, out_headers, body

        def handle_any(self):
            path = self.path.split("?", 1)[0]
            blob = BLOB_RE.match(path) if self.command == "GET" else None
            if mode == "fail-once" and (BLOB_RE.match(path) or MANIFEST_RE.match(path)) \
                    and first_time((self.command, path)):
                body = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "injected 503"}]}).encode()
                log(self.entry(503))   # logged before the answer: a client reading the log after it finds the line
                return self.send_body(503, [("Content-Type", "application/json")], body, self.command == "HEAD")
            upload = re.match(r"^/v2/(.+)/blobs/uploads/.+$", path)
            if mode == "drop-upload-once" and upload and self.command in ("PUT", "PATCH") \
                    and first_time(("upload", upload.group(1))):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length // 2)
                log(self.entry(0) | {"dropped": True})
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if mode == "stall" and upload and self.command in ("PUT", "PATCH"):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                log(self.entry(0) | {"stalled": True})
                time.sleep(3600)
                return
            if mode == "huge-manifest" and MANIFEST_RE.match(path):
                pad = b" " * (5 << 20)
                body = b'{"schemaVersion":2,' + pad + b'"layers":[]}'
                log(self.entry(200))
                return self.send_body(200, [("Content-Type", "application/vnd.oci.image.manifest.v1+json")], body,
                                      self.command == "HEAD")
            if blob and mode == "redirect":
                digest = blob.group(2)
                log(self.entry(307))
                return self.send_body(307, [("Location", f"http://localhost:{cdn_port[0]}/cdn/{digest}?sig=presigned")], b"")
            status, headers, body = self.forward()
            if blob and status == 200 and mode == "stall":
                log(self.entry(200) | {"stalled": True})
                self.send_response(200)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                time.sleep(3600)
                return
            if blob and status == 200 and mode == "truncate-once" and first_time(path):
                log(self.entry(200) | {"truncated": True})
                self.send_response(200)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            manifest_get = self.command == "GET" and MANIFEST_RE.match(path)
            if (blob or manifest_get) and status == 200 and mode == "corrupt" and body:
                b = bytearray(body)
                b[len(b) // 2] ^= 0x01
                body = bytes(b)
            if blob and status == 200 and mode == "short" and body:
                body = body[:-1]
            log(self.entry(status))
            self.send_body(status, headers, body, self.command == "HEAD")

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    class CDN(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            entry = {"listener": "cdn", "method": "GET", "path": self.path,
                     "authorization": "Authorization" in self.headers, "range": self.headers.get("Range")}
            if "Authorization" in self.headers:
                with lock, open(violations_path, "a") as f:
                    f.write(f"Authorization sent to the CDN host for {self.path}: "
                            f"{self.headers['Authorization'][:16]}…\n")
                body = b'<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>'
                log(entry | {"status": 400})
                self.send_response(400)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            m = re.match(r"^/cdn/sha256:([0-9a-f]{64})(\?.*)?$", self.path)
            f = m and os.path.join(storage, "docker/registry/v2/blobs/sha256", m.group(1)[:2], m.group(1), "data")
            if not f or not os.path.exists(f):
                log(entry | {"status": 404})
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = open(f, "rb").read()
            log(entry | {"status": 200})
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def serve(handler, port_file):
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        with open(port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        return server, port_file

    servers = []
    if mode == "redirect":
        cdn, cdn_file = serve(CDN, os.path.join(d, f"shim-{name}.cdnport"))
        cdn_port[0] = cdn.server_address[1]
        servers.append((cdn, cdn_file))
    servers.append(serve(Main, os.path.join(d, f"shim-{name}.port")))
    for s, port_file in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    # Port files appear only once every listener is up (the caller waits for the main one).
    for s, port_file in servers:
        os.rename(port_file + ".tmp", port_file)
    threading.Event().wait()


if __name__ == "__main__":
    main()
