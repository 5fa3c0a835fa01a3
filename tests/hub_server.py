"""A Hugging Face hub on 127.0.0.1 for tests: answers `HEAD` / `GET /{repo}/resolve/{revision}/{file}` as the
hub does (X-Repo-Commit, ETag: sha256 for weights, git's blob sha1 for other files, Content-Length; 404 with
X-Error-Code EntryNotFound / RepoNotFound), and can cut or corrupt the next download."""

from __future__ import annotations

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")


def etag(filename: str, data: bytes) -> str:
    if filename.endswith((".safetensors", ".bin", ".pth")):  # LFS files: sha256 of the content
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that hung up (a cancelled download)
        pass


class LoopbackHub:
    """`with LoopbackHub({"timm/x.y": {"model.safetensors": b"..."}}) as hub: hub.endpoint, hub.requests`."""

    def __init__(self, repos: dict[str, dict[str, bytes]], chunk: int = 1 << 16, delay: float = 0.0):
        self.repos, self.chunk, self.delay = repos, chunk, delay
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.cut_next = False  # the next GET sends half the file with a Content-Length that says so
        self.corrupt_next = False  # the next GET sends the whole length with flipped bytes
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self):
                hub._answer(self, body=False)

            def do_GET(self):
                hub._answer(self, body=True)

            def log_message(self, *args):
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def _answer(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        import time

        self.requests.append((h.command, h.path))
        m = _RESOLVE.match(h.path)
        repo = self.repos.get(m["repo"]) if m else None
        if repo is None or m["file"] not in repo:
            h.send_response(404)
            h.send_header("X-Error-Code", "RepoNotFound" if repo is None else "EntryNotFound")
            h.send_header("X-Repo-Commit", COMMIT)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        data = repo[m["file"]]
        if body and self.cut_next:
            self.cut_next, data = False, data[: len(data) // 2]
        elif body and self.corrupt_next:
            self.corrupt_next, data = False, bytes(b ^ 0xFF for b in data[:64]) + data[64:]
        h.send_response(200)
        h.send_header("X-Repo-Commit", COMMIT)
        h.send_header("ETag", f'"{etag(m["file"], repo[m["file"]])}"')
        h.send_header("Content-Length", str(len(data) if body else len(repo[m["file"]])))
        h.end_headers()
        if body:
            for i in range(0, len(data), self.chunk):
                h.wfile.write(data[i : i + self.chunk])
                if self.delay:
                    time.sleep(self.delay)
