#!/usr/bin/env python3
"""A tiny HTTP key-value server: the backend of the example `config` drivers.

Python standard library only. Listens on loopback; prints one line,
`listening on http://127.0.0.1:PORT`, once it accepts connections.

    kv_server.py --token TOKEN [--port 0]

Every request needs `Authorization: Bearer TOKEN` (else 401).

    GET    /v1/kv               -> 200 {"entries": {KEY: ENTRY, ...}}
    GET    /v1/kv/KEY           -> 200 ENTRY | 404
    PUT    /v1/kv/KEY           body {"value": ANY}
                                optional `If-Match: REVISION`: 412 when the
                                entry exists with another revision
                                -> 201 ENTRY (created) | 200 ENTRY (updated
                                or unchanged; the revision grows only when the
                                value changes)
    DELETE /v1/kv/KEY           -> 204 | 404

ENTRY is {"key", "value", "revision", "read_token"}; `read_token` is a random
secret minted when the key is created, the kind of credential a real
configuration service hands out per entry. Keys: 1-200 characters of
`A-Za-z0-9._-`.
"""

import argparse
import json
import re
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
MAX_BODY = 1 << 20


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.entries = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kv-server/1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if self.server.verbose:
            super().log_message(format, *args)

    def reply(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if status >= 400:
            # The request body may be unread; do not parse it as the next request.
            self.send_header("connection", "close")
            self.close_connection = True
        if body is not None:
            self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def authorized(self):
        want = "Bearer " + self.server.token
        got = self.headers.get("authorization", "")
        if secrets.compare_digest(got.encode(), want.encode()):
            return True
        self.reply(401, {"error": "missing or wrong bearer token"})
        return False

    def key(self):
        path = self.path.split("?", 1)[0]
        if path in ("/v1/kv", "/v1/kv/"):
            return ""
        if not path.startswith("/v1/kv/"):
            self.reply(404, {"error": "no such endpoint"})
            return None
        key = path[len("/v1/kv/"):]
        if not KEY.match(key):
            self.reply(400, {"error": "bad key"})
            return None
        return key

    def key_required(self, method):
        key = self.key()
        if key == "":
            self.reply(405, {"error": f"{method} needs a key"})
            return None
        return key

    def read_chunked(self):
        data = b""
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers
                    pass
                return data
            if len(data) + size > MAX_BODY:
                return None
            data += self.rfile.read(size)
            self.rfile.readline()  # CRLF after each chunk

    def read_body(self):
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            raw = self.read_chunked()
        else:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length <= MAX_BODY else None
        if raw is None:
            self.reply(413, {"error": "body too large"})
            return None
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self.reply(400, {"error": "body is not JSON"})
            return None
        if not isinstance(body, dict) or "value" not in body:
            self.reply(400, {"error": 'body must be {"value": ...}'})
            return None
        return body

    def do_GET(self):
        key = self.key()
        if key is None or not self.authorized():
            return
        store = self.server.store
        with store.lock:
            if key == "":
                self.reply(200, {"entries": store.entries})
            elif key in store.entries:
                self.reply(200, store.entries[key])
            else:
                self.reply(404, {"error": f"no key {key}"})

    def do_PUT(self):
        key = self.key_required("PUT")
        if key is None or not self.authorized():
            return
        body = self.read_body()
        if body is None:
            return
        if_match = self.headers.get("if-match")
        store = self.server.store
        with store.lock:
            entry = store.entries.get(key)
            if entry is not None and if_match is not None and if_match != str(entry["revision"]):
                self.reply(412, {"error": "revision mismatch", "revision": entry["revision"]})
                return
            if entry is None:
                entry = {
                    "key": key,
                    "value": body["value"],
                    "revision": 1,
                    "read_token": secrets.token_hex(16),
                }
                store.entries[key] = entry
                self.reply(201, entry)
                return
            if entry["value"] != body["value"]:
                entry["value"] = body["value"]
                entry["revision"] += 1
            self.reply(200, entry)

    def do_DELETE(self):
        key = self.key_required("DELETE")
        if key is None or not self.authorized():
            return
        store = self.server.store
        with store.lock:
            if store.entries.pop(key, None) is None:
                self.reply(404, {"error": f"no key {key}"})
            else:
                self.reply(204)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--token", required=True, help="the bearer token clients must send")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.token = args.token
    server.store = Store()
    server.verbose = args.verbose
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
