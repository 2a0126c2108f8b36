"""A local stand-in for the Kubernetes API server: the pods endpoints, in the real REST
wire format (JSON objects, Status bodies on errors, bearer tokens, merge patches)."""

import copy
import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POD_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/pods(?:/([^/]+))?$")


def pod(name: str, namespace: str = "agents") -> dict:
    """A pod as the API server returns it, owned by a ReplicaSet and scheduled on a node."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "0d6c1f7e-5b1e-4f0e-9a53-1f4c2b8e7a10",
            "resourceVersion": "4711",
            "creationTimestamp": "2026-11-23T08:00:00Z",
            "labels": {"app": "research-agent", "pod-template-hash": "6d9f"},
            "annotations": {"team": "research"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "research-agent-6d9f"}],
        },
        "spec": {
            "nodeName": "node-1",
            "containers": [{"name": "agent", "image": "example/agent:1"}],
        },
    }


class FakeKubeApi(ThreadingHTTPServer):
    """Pods in memory; every request is recorded as (method, path, headers, body)."""

    def __init__(self, token: str, pods: list[dict]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token = token
        self.pods = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods}
        self.requests: list[tuple[str, str, dict, dict]] = []
        self.lock = threading.Lock()
        self._suffix = itertools.count(1)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def next_suffix(self) -> str:
        return f"x{next(self._suffix):04d}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeKubeApi

    def do_GET(self):
        self._serve("GET")

    def do_PATCH(self):
        self._serve("PATCH")

    def do_DELETE(self):
        self._serve("DELETE")

    def do_POST(self):
        self._serve("POST")

    def log_message(self, *args):
        pass

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        with self.server.lock:
            self.server.requests.append((method, self.path, dict(self.headers), body))
            code, answer = self._answer(method, body)
        data = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, method: str, body: dict) -> tuple[int, dict]:
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            return _status(401, "Unauthorized", "Unauthorized")
        match = POD_PATH.match(self.path)
        if not match:
            return _status(404, "NotFound", f"the server could not find {self.path}")
        namespace, name = match.groups()
        if method == "POST" and name is None:
            return self._create(namespace, body)
        found = self.server.pods.get((namespace, name))
        if found is None:
            return _status(404, "NotFound", f'pods "{name}" not found')
        if method == "GET":
            return 200, found
        if method == "DELETE":
            del self.server.pods[(namespace, name)]
            return 200, found
        return self._patch(found, body)

    def _patch(self, found: dict, body: dict) -> tuple[int, dict]:
        if self.headers.get("Content-Type") != "application/merge-patch+json":
            return _status(
                415, "UnsupportedMediaType", "the body of the request was in an unknown format"
            )
        found["metadata"].setdefault("annotations", {}).update(body["metadata"]["annotations"])
        return 200, found

    def _create(self, namespace: str, body: dict) -> tuple[int, dict]:
        created = copy.deepcopy(body)
        meta = created["metadata"]
        meta["name"] = meta.pop("generateName", "") + self.server.next_suffix()
        meta["namespace"] = namespace
        self.server.pods[(namespace, meta["name"])] = created
        return 201, created


def _status(code: int, reason: str, message: str) -> tuple[int, dict]:
    return code, {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
