"""A Telegram Bot API stand-in on 127.0.0.1 for the notification and outbox tests.

Each sendMessage call is answered as `plan(n, text)` says (n counts calls from 1): "ok" (a
message id of 1000 + n), "fail" (ok: false), "error" (HTTP 500), "malformed" (not JSON) or
"hang" (two seconds late, then ok). The texts received are kept in order.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cms.services import outbox

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"


def always_ok(number: int, text: str) -> str:
    return "ok"


class FakeTelegram:
    """Answers sendMessage calls as `plan` says and remembers the texts."""

    def __init__(self, plan=always_ok):
        self.plan = plan
        self.received: list[str] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 - http.server naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    number = len(fake.received) + 1
                    fake.received.append(body["text"])
                mode = fake.plan(number, body["text"])
                if mode == "hang":
                    time.sleep(2)
                    mode = "ok"
                if mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    return
                payload = b"<html>not json</html>" if mode == "malformed" else json.dumps(
                    {"ok": mode == "ok", "result": {"message_id": 1000 + number}, "description": "Bad Request"}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def client(self, timeout=5.0):
        return outbox.TelegramClient(self.url, TOKEN, "42", timeout=timeout)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
