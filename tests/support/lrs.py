#!/usr/bin/env python3
"""A small Learning Record Store for talentcert's tests (Python's standard library only).

POST /xapi/statements takes a statement or a list of statements, with HTTP basic auth
(--user/--password) and the X-Experience-API-Version header; each statement is written to DIR as
<id>.json, plus one line per request in DIR/requests.log (statement ids, in order). A statement id
already stored with the same content is accepted again (as an LRS does); with other content it is
a 409. --fail-first N answers the first N requests with 503. Prints "ready PORT" once listening.
"""
import argparse
import base64
import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--reject-verb", default="", help="answer 400 to any request holding a statement with this verb IRI")
    args = parser.parse_args()
    expected = "Basic " + base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
    lock = threading.Lock()
    state = {"failures": args.fail_first}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Experience-API-Version", "1.0.3")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if self.path != "/xapi/statements":
                return self.answer(404, {"error": "no such resource"})
            with lock:
                if state["failures"] > 0:
                    state["failures"] -= 1
                    return self.answer(503, {"error": "down for maintenance"})
            if self.headers.get("Authorization") != expected:
                return self.answer(401, {"error": "bad credentials"})
            if not self.headers.get("X-Experience-API-Version", "").startswith("1.0"):
                return self.answer(400, {"error": "X-Experience-API-Version missing"})
            try:
                body = json.loads(raw)
            except ValueError:
                return self.answer(400, {"error": "not JSON"})
            statements = body if isinstance(body, list) else [body]
            ids = []
            with lock:
                for s in statements:
                    sid = s.get("id")
                    if not sid or "actor" not in s or "verb" not in s or "object" not in s:
                        return self.answer(400, {"error": "not a statement"})
                    if args.reject_verb and s["verb"].get("id") == args.reject_verb:
                        return self.answer(400, {"error": "verb not accepted", "id": sid})
                    path = os.path.join(args.dir, sid + ".json")
                    text = json.dumps(s, sort_keys=True)
                    if os.path.exists(path):
                        with open(path, encoding="utf-8") as f:
                            if f.read() != text:
                                return self.answer(409, {"error": "conflict", "id": sid})
                    else:
                        with open(path + ".tmp", "w", encoding="utf-8") as f:
                            f.write(text)
                        os.rename(path + ".tmp", path)
                    ids.append(sid)
                with open(os.path.join(args.dir, "requests.log"), "a", encoding="utf-8") as f:
                    f.write(" ".join(ids) + "\n")
            return self.answer(200, ids)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print("ready", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
