"""The SamCart stand-in (SPEC §17) over real HTTP: the API it imitates, its control endpoints,
and `manage.py fake_samcart` run as a process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from fulfillment.samcart_api.standin import ERR_KEY, StandinServer
from fulfillment.samcart_api.standin_data import standin_customer, standin_data, standin_order
from tests.smtp import free_port

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk_test_standin_42"
DAY = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def sample() -> dict:
    # Listed out of id order on purpose: the stand-in sorts by id.
    orders = [
        standin_order(3, 279813, order_date=DAY + timedelta(hours=3)),
        standin_order(1, 279813, order_date=DAY + timedelta(hours=1)),
        standin_order(2, 294010, order_date=DAY + timedelta(hours=2), test_mode=True),
        standin_order(10, 279813, order_date=DAY + timedelta(hours=10), customer_id=123),
    ]
    return standin_data(api_key=KEY, orders=orders, customers=[standin_customer(500001)])


@pytest.fixture
def standin():
    with StandinServer(sample()) as server:
        yield server


def get(server: StandinServer, path: str, key: str | None = KEY, **params) -> requests.Response:
    headers = {"sc-api": key} if key is not None else {}
    return requests.get(f"{server.base_url}{path}", params=params, headers=headers, timeout=10)


def ids(response: requests.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [order["id"] for order in response.json()["data"]]


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("path", ["/orders", "/orders/1", "/orders/1/customer"])
def test_every_endpoint_checks_the_key(standin, path):
    for key in (None, "", "sk_test_wrong", KEY.upper()):
        refused = get(standin, path, key=key)
        assert refused.status_code == 401
        assert refused.json() == {"message": ERR_KEY}
    assert get(standin, path).status_code == 200
    assert [r["status"] for r in standin.requests] == [401, 401, 401, 401, 200]


def test_the_listing_is_sorted_by_id_and_filtered_on_date_and_test_mode(standin):
    assert ids(get(standin, "/orders")) == [1, 2, 3, 10]
    # Both ends are inclusive.
    window = {
        "created_at_min": iso(DAY + timedelta(hours=1)),
        "created_at_max": iso(DAY + timedelta(hours=3)),
    }
    assert ids(get(standin, "/orders", **window)) == [1, 2, 3]
    window["created_at_max"] = iso(DAY + timedelta(hours=3) - timedelta(seconds=1))
    assert ids(get(standin, "/orders", **window)) == [1, 2]
    assert ids(get(standin, "/orders", test_mode="true")) == [2]
    assert ids(get(standin, "/orders", test_mode="false")) == [1, 3, 10]
    # An offset within the window: the orders after it.
    assert ids(get(standin, "/orders", offset="2", dir="next")) == [3, 10]
    assert ids(get(standin, "/orders", offset="10", dir="prev", limit="2")) == [2, 3]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"limit": "-1"},
        {"limit": ""},
        {"limit": "٣"},
        {"created_at_min": "yesterday"},
        {"created_at_max": "2025-13-01T00:00:00Z"},
        {"test_mode": "maybe"},
        {"dir": "sideways"},
    ],
)
def test_bad_parameters_are_400_with_a_message(standin, params):
    response = get(standin, "/orders", **params)

    assert response.status_code == 400
    assert response.json()["message"]


@pytest.mark.parametrize("limit", ["1", "100"])
def test_the_limits_of_limit_are_accepted(standin, limit):
    assert len(ids(get(standin, "/orders", limit=limit))) == min(int(limit), 4)


def test_next_keeps_the_filters_and_names_the_last_id(standin):
    first = get(standin, "/orders", limit="2", test_mode="false", created_at_min=iso(DAY))

    assert ids(first) == [1, 3]
    following = first.json()["pagination"]["next"]
    parts = urlsplit(following)
    assert f"{parts.scheme}://{parts.netloc}/v1" == standin.base_url
    assert parse_qs(parts.query) == {
        "limit": ["2"],
        "test_mode": ["false"],
        "created_at_min": [iso(DAY)],
        "offset": ["3"],
        "dir": ["next"],
    }
    last = requests.get(following, headers={"sc-api": KEY}, timeout=10)
    assert ids(last) == [10]
    assert last.json()["pagination"]["next"] is None
    assert "offset=10&dir=prev" in last.json()["pagination"]["prev"]


def test_a_page_of_exactly_limit_orders_ends_the_listing_unless_lazy(standin):
    page = get(standin, "/orders", limit="4")
    assert ids(page) == [1, 2, 3, 10]
    assert page.json()["pagination"]["next"] is None

    standin.control({"lazy_next": True})
    page = get(standin, "/orders", limit="4")
    following = page.json()["pagination"]["next"]
    assert following is not None
    empty = requests.get(following, headers={"sc-api": KEY}, timeout=10)
    assert ids(empty) == []
    assert empty.json()["pagination"]["next"] is None


def test_one_order_and_its_customer_or_404(standin):
    assert get(standin, "/orders/3").json()["id"] == 3
    assert get(standin, "/orders/1/customer").json()["id"] == 500001
    for path in (
        "/orders/99",
        "/orders/99/customer",
        "/orders/10/customer",
        "/nothing",
        "/orders/1/x",
    ):
        missing = get(standin, path)
        assert missing.status_code == 404, path
        assert missing.json() == {"message": "Not found."}


def test_queued_faults_answer_in_order_then_the_data(standin):
    control = requests.post(
        f"{urlsplit(standin.base_url)._replace(path='').geturl()}/_control",
        json={"fail": [{"status": 429, "retry_after": "1", "times": 2}, {"status": 504}]},
        timeout=10,
    )
    assert control.json() == {"ok": True}

    answers = [get(standin, "/orders") for _ in range(4)]

    assert [a.status_code for a in answers] == [429, 429, 504, 200]
    assert [a.headers.get("Retry-After") for a in answers] == ["1", "1", None, None]
    assert all(a.headers["Content-Type"] == "application/json" for a in answers)


def test_control_over_http_reset_data_and_requests(standin):
    root = standin.base_url.removesuffix("/v1")
    requests.post(f"{root}/_control", json={"fail": [{"status": 401}]}, timeout=10)
    assert get(standin, "/orders").status_code == 401

    logged = requests.get(f"{root}/_requests", timeout=10).json()["requests"]
    assert logged == [{"method": "GET", "path": "/v1/orders", "query": "", "status": 401}]

    requests.post(f"{root}/_control", json={"fail": [{"status": 500}], "reset": True}, timeout=10)
    assert requests.get(f"{root}/_requests", timeout=10).json() == {"requests": []}
    assert get(standin, "/orders").status_code == 500  # faults given with reset come after it

    new = standin_data(api_key="sk_new", orders=[standin_order(77, 279813)])
    assert requests.put(f"{root}/_data", json=new, timeout=10).status_code == 200
    assert get(standin, "/orders").status_code == 401
    assert ids(get(standin, "/orders", key="sk_new")) == [77]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/_control", b"{not json"),
        ("post", "/_control", b"[1]"),
        ("post", "/_control", b'{"fail": [{"status": 99}]}'),
        ("post", "/_control", b'{"fail": [{"times": 0}]}'),
        ("post", "/_control", b'{"fail": [{"delay": "long"}]}'),
        ("put", "/_data", b'{"orders": []}'),
        ("put", "/_data", b'{"api_key": "k", "orders": {}}'),
        ("put", "/_data", b"\xff"),
    ],
)
def test_bad_control_bodies_are_400_and_change_nothing(standin, method, path, body):
    root = standin.base_url.removesuffix("/v1")

    response = requests.request(method, f"{root}{path}", data=body, timeout=10)

    assert response.status_code == 400
    assert response.json()["message"]
    assert ids(get(standin, "/orders")) == [1, 2, 3, 10]


def test_a_delay_makes_the_answer_slow(standin):
    standin.fail({"delay": 1})
    began = time.monotonic()

    assert get(standin, "/orders").status_code == 200

    assert time.monotonic() - began >= 1
    with pytest.raises(requests.ReadTimeout):
        standin.fail({"delay": 1})
        requests.get(f"{standin.base_url}/orders", headers={"sc-api": KEY}, timeout=0.2)


def _ctrl_c_stops_it() -> None:
    """In the child: SIGINT does what Ctrl-C does. A suite started in the background (`… &`
    in a script) runs with SIGINT ignored, the child would inherit that, and Python then
    installs no KeyboardInterrupt: the command would never see the Ctrl-C this test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_fake_samcart_serves_a_file_and_reloads_it(tmp_path):
    data_file = tmp_path / "samcart.json"
    data_file.write_text(json.dumps(sample()))
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "fake_samcart",
            "--port",
            str(port),
            "--data",
            str(data_file),
            "--fail-401",
            "1",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_ctrl_c_stops_it,
    )
    try:
        base_url = _printed_url(process)
        assert base_url == f"http://127.0.0.1:{port}/v1"
        first = requests.get(f"{base_url}/orders", headers={"sc-api": KEY}, timeout=10)
        assert first.status_code == 401  # --fail-401 1
        second = requests.get(f"{base_url}/orders", headers={"sc-api": KEY}, timeout=10)
        assert [o["id"] for o in second.json()["data"]] == [1, 2, 3, 10]

        more = sample()
        more["orders"].append(standin_order(11, 279813))
        data_file.write_text(json.dumps(more))
        _wait_for(lambda: len(_listing(base_url)) == 5)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=20)
    assert process.returncode == 0


def _printed_url(process: subprocess.Popen) -> str:
    """Return the first line that is a URL (other lines, such as a library's banner, may come)."""
    for line in process.stdout:
        if line.startswith("http://"):
            return line.strip()
    pytest.fail(f"fake_samcart stopped without printing its URL (exit {process.wait()})")


def _listing(base_url: str) -> list[dict]:
    return requests.get(f"{base_url}/orders", headers={"sc-api": KEY}, timeout=10).json()["data"]


def _wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the stand-in did not pick up the changed data file")
        time.sleep(0.1)
