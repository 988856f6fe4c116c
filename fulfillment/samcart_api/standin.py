"""A stand-in for SamCart's API v1 over real HTTP, for the tests and the demo (SPEC §17).

It serves `GET /v1/orders`, `/v1/orders/{id}` and `/v1/orders/{id}/customer` from a JSON
document `{"api_key": ..., "orders": [...], "customers": {"<customer id>": {...}}}` and checks
the `sc-api` header on each. Control endpoints, here only and without a key:
`POST /_control` queues faults (`{"fail": [{"status": 429, "retry_after": "1", "times": 2},
{"delay": 2}]}`), sets `{"lazy_next": true}` or `{"reset": true}`; `PUT /_data` replaces the
document; `GET /_requests` lists the API requests served (method, path, query, status).

Page boundary: SamCart's own behaviour is unknown, so both are offered. By default `next` is
null when no order follows the page (exactly `limit` orders make one page without a link);
with `lazy_next` every full page links on, and the page after the last order is empty.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from fulfillment.samcart_api.standin_listing import find_customer, find_order, order_listing

MAX_BODY = 10 * 1024 * 1024
ERR_KEY = "Invalid or missing API key (send it in the sc-api header)."
ERR_NOT_FOUND = "Not found."

JSON = dict[str, Any]


class StandinState:
    """The data, queued faults, switches and request log, shared by the server's threads."""

    def __init__(self, data: JSON) -> None:
        """Start with `data` (checked), no faults and an empty log."""
        self.lock = threading.Lock()
        self.data = check_data(data)
        self.faults: list[JSON] = []
        self.lazy_next = False
        self.log: list[JSON] = []

    def control(self, payload: object) -> None:
        """Apply a control document: reset, lazy_next, fail (faults are appended in order)."""
        if not isinstance(payload, dict):
            raise ValueError("The control body must be a JSON object.")
        faults = [check_fault(fault) for fault in payload.get("fail") or []]
        with self.lock:
            if payload.get("reset"):
                self.faults, self.log, self.lazy_next = [], [], False
            if "lazy_next" in payload:
                self.lazy_next = bool(payload["lazy_next"])
            self.faults.extend(faults)

    def set_data(self, data: object) -> None:
        """Replace the data document once it is checked."""
        checked = check_data(data)
        with self.lock:
            self.data = checked

    def take_fault(self) -> JSON | None:
        """Return the next queued fault and count it down, or None."""
        with self.lock:
            if not self.faults:
                return None
            fault = self.faults[0]
            fault["times"] -= 1
            if fault["times"] <= 0:
                self.faults.pop(0)
            return fault


def check_data(data: object) -> JSON:
    """Return the data document if it has the documented shape, else raise ValueError."""
    if not isinstance(data, dict) or not isinstance(data.get("api_key"), str):
        raise ValueError('The data must be a JSON object with an "api_key" string.')
    if not isinstance(data.get("orders", []), list):
        raise ValueError('"orders" must be a list.')
    if not isinstance(data.get("customers", {}), dict):
        raise ValueError('"customers" must be an object keyed by customer id.')
    return {"orders": [], "customers": {}, **data}


def check_fault(fault: object) -> JSON:
    """Return a fault with its defaults, or raise ValueError for one that makes no sense."""
    if not isinstance(fault, dict):
        raise ValueError("Each fault must be a JSON object.")
    status, times, delay = fault.get("status"), fault.get("times", 1), fault.get("delay", 0)
    if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
        raise ValueError("A fault's status must be an HTTP status code.")
    if not isinstance(times, int) or times < 1:
        raise ValueError("A fault's times must be a whole number from 1.")
    if not isinstance(delay, int | float) or not 0 <= delay <= 60:
        raise ValueError("A fault's delay must be from 0 to 60 seconds.")
    if not isinstance(fault.get("headers", {}), dict):
        raise ValueError("A fault's headers must be an object.")
    return {**fault, "times": times, "delay": delay}


class _Handler(BaseHTTPRequestHandler):
    """Answer one request; JSON always, and nothing printed."""

    server: _Server

    def do_GET(self) -> None:
        """Serve the API, or the request log."""
        path = urlsplit(self.path).path
        if path == "/_requests":
            with self.server.state.lock:
                log = list(self.server.state.log)
            self._send(200, {"requests": log})
        elif path.startswith("/v1/"):
            self._api(path)
        else:
            self._send(404, {"message": ERR_NOT_FOUND})

    def do_POST(self) -> None:
        """Apply a control document."""
        self._control(StandinState.control, "/_control")

    def do_PUT(self) -> None:
        """Replace the data document."""
        self._control(StandinState.set_data, "/_data")

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests and the demo read `/_requests` instead."""

    def _control(self, apply: Callable[[StandinState, object], None], path: str) -> None:
        """Read a JSON body and apply it; a bad one is a 400 with the reason."""
        if urlsplit(self.path).path != path:
            self._send(404, {"message": ERR_NOT_FOUND})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_BODY:
                raise ValueError("The body is too large.")
            apply(self.server.state, json.loads(self.rfile.read(length) or b"null"))
        except (ValueError, RecursionError) as error:
            self._send(400, {"message": str(error)[:300]})
            return
        self._send(200, {"ok": True})

    def _api(self, path: str) -> None:
        """Answer an API request: a queued fault first, then the key, then the data.

        The request is logged before the answer goes out, so a client that has its answer
        finds its request in the log.
        """
        state = self.server.state
        query = urlsplit(self.path).query
        fault = state.take_fault()
        if fault and fault["delay"]:
            time.sleep(fault["delay"])
        if fault and ("status" in fault or "body" in fault):
            status, body, headers = _fault_answer(fault)
        elif not secrets.compare_digest(
            (self.headers.get("sc-api") or "").encode(), state.data["api_key"].encode()
        ):
            status, body, headers = 401, {"message": ERR_KEY}, {}
        else:
            status, body = self._route(path, dict(parse_qsl(query, keep_blank_values=True)))
            headers = {}
        entry = {"method": self.command, "path": path, "query": query, "status": status}
        with state.lock:
            state.log.append(entry)
        self._send(status, body, headers)

    def _route(self, path: str, query: dict[str, str]) -> tuple[int, object]:
        """Return the status and body the API answers for path."""
        state = self.server.state
        parts = [unquote(part) for part in path.split("/")[2:]]
        with state.lock:
            data, lazy = state.data, state.lazy_next
        if parts == ["orders"]:
            host = self.headers.get("Host") or self.server.netloc
            return order_listing(data, query, base_url=f"http://{host}/v1", lazy_next=lazy)
        if len(parts) == 2 and parts[0] == "orders":
            found = find_order(data, parts[1])
        elif len(parts) == 3 and parts[0] == "orders" and parts[2] == "customer":
            found = find_customer(data, parts[1])
        else:
            found = None
        return (200, found) if found is not None else (404, {"message": ERR_NOT_FOUND})

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        """Write a response; a client that already hung up (a time-out) is not an error."""
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)
        except OSError:
            pass


def _fault_answer(fault: JSON) -> tuple[int, object, dict[str, str]]:
    """Return a queued fault's status, body (raw when it is text) and headers."""
    status = fault.get("status", 200)
    headers = {str(k): str(v) for k, v in fault.get("headers", {}).items()}
    if "retry_after" in fault:
        headers["Retry-After"] = str(fault["retry_after"])
    body = fault.get("body", {"message": f"The stand-in answers HTTP {status} on purpose."})
    return status, body, headers


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: StandinState
    netloc: str

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up; the tests' time-outs do it on purpose."""


class StandinServer:
    """Run the stand-in in a thread: `StandinServer(data).start()`, then `.base_url`."""

    def __init__(self, data: JSON, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind the port now (0: a free one), so `base_url` is known before `start()`."""
        self._httpd = _Server((host, port), _Handler)
        self._httpd.state = StandinState(data)
        self._httpd.netloc = f"{host}:{self._httpd.server_address[1]}"
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Return the API's base URL, ending in /v1."""
        return f"http://{self._httpd.netloc}/v1"

    @property
    def requests(self) -> list[JSON]:
        """Return the API requests served so far: method, path, query (raw text), status."""
        with self._httpd.state.lock:
            return list(self._httpd.state.log)

    def start(self) -> StandinServer:
        """Serve in a daemon thread until stop()."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def fail(self, *faults: JSON) -> None:
        """Queue faults for the next API requests, in order (see the module's docstring)."""
        self._httpd.state.control({"fail": list(faults)})

    def control(self, payload: JSON) -> None:
        """Apply a control document, as `POST /_control` does."""
        self._httpd.state.control(payload)

    def set_data(self, data: JSON) -> None:
        """Replace the data document, as `PUT /_data` does."""
        self._httpd.state.set_data(data)

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
