"""Hostile clients against a real `herald gateway`: header floods, slow bodies and headers,
fuzzed publishes, batches and listing queries, and secrets that must never reach the logs.

Invariants: never a 5xx; every 4xx is `{"error": ...}`; a refused publish stores nothing.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.conftest import fresh_database
from tests.support.fuzzing import HTTP_EXAMPLES
from tests.support.gateway import CURRENT_KEY, NEXT_KEY, TOKEN, Gateway, wait_until
from tests.support.receiver import Answer, Receiver
from tests.support.snapshot import snapshot

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api_only(redis_base_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """An API-only gateway (nothing is delivered) with small limits."""
    url = fresh_database(redis_base_url)
    log = tmp_path_factory.mktemp("hostile") / "gateway.log"
    gateway = Gateway(
        url, log, roles="api", max_body_bytes=64 * 1024, max_headers=40, read_timeout=0.5
    ).start()
    yield gateway
    gateway.close()


@pytest.fixture(scope="module")
def store(api_only: Gateway) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(api_only.redis_url)
    yield client
    client.close()


def check_answer(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400:
        assert isinstance(response.json().get("error"), str), response.text


# -- limits ----------------------------------------------------------------------------------


def test_too_many_headers_answer_431(api_only: Gateway, store: redis.Redis) -> None:
    before = snapshot(store)
    headers = {f"X-Flood-{i}": "1" for i in range(60)}
    response = api_only.publish("http://127.0.0.1:9/x", b"{}", **headers)
    assert response.status_code == 431
    assert "header fields" in response.json()["error"]
    assert snapshot(store) == before
    fine = api_only.publish("http://127.0.0.1:9/x", b"{}", **dict(list(headers.items())[:20]))
    assert fine.status_code == 200


class SlowClient:
    """A raw-socket client that trickles bytes, one every `pace` seconds, until cut off."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.stop = threading.Event()

    def trickle(self, data: bytes, pace: float = 0.05) -> None:
        def run() -> None:
            for byte in data:
                if self.stop.is_set():
                    return
                try:
                    self.sock.sendall(bytes([byte]))
                except OSError:  # cut off: what the test wants
                    return
                self.stop.wait(pace)  # the attacker's pace, not a wait for a condition

        threading.Thread(target=run, daemon=True).start()

    def read_until_closed(self) -> bytes:
        """Everything the server sends until it closes; fails (socket timeout) if it never
        does, which is what a missing deadline looks like."""
        chunks = []
        try:
            while chunk := self.sock.recv(65536):
                chunks.append(chunk)
        finally:
            self.stop.set()
            self.sock.close()
        return b"".join(chunks)


def test_slow_body_is_cut_off_with_408(api_only: Gateway, store: redis.Redis) -> None:
    before = snapshot(store)
    client = SlowClient(api_only.port)
    head = (
        f"POST /v2/publish/http://127.0.0.1:9/x HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Length: 5000\r\n\r\n"
    ).encode()
    client.sock.sendall(head)
    client.trickle(b"a" * 5000)  # would take 250 s at this pace
    answer = client.read_until_closed()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"error":"request body not received within 0.5s"' in answer
    assert snapshot(store) == before
    assert api_only.client.get("/healthz").status_code == 200  # the gateway carries on
    assert "Traceback" not in api_only.log_path.read_text()  # the cut-off is not a 500


def test_silent_connection_is_closed_with_408(api_only: Gateway) -> None:
    answer = SlowClient(api_only.port).read_until_closed()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_slow_headers_are_cut_off_with_408(api_only: Gateway) -> None:
    client = SlowClient(api_only.port)
    client.trickle(b"POST /v2/publish/http://127.0.0.1:9/x HTTP/1.1\r\n" + b"X-A: b\r\n" * 500)
    answer = client.read_until_closed()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"request headers not received within 0.5s" in answer


def test_keep_alive_requests_each_get_their_own_deadline(api_only: Gateway) -> None:
    """The deadline covers one request, not the connection: a kept-alive connection idle for
    longer than the deadline serves its next request (uvicorn's keep-alive timeout is 5 s)."""
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", api_only.port), timeout=10) as kept:
        kept.sendall(request)
        assert read_response(kept).startswith(b"HTTP/1.1 200")
        # A silent connection opened now is cut off once the deadline has passed for both.
        assert SlowClient(api_only.port).read_until_closed().startswith(b"HTTP/1.1 408")
        kept.sendall(request)
        assert read_response(kept).startswith(b"HTTP/1.1 200")


def read_response(sock: socket.socket) -> bytes:
    """One whole HTTP/1.1 response (headers and a Content-Length body), however the bytes
    arrive."""

    def more() -> bytes:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-response"
        return chunk

    data = b""
    while b"\r\n\r\n" not in data:
        data += more()
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))  # fmt: skip
    while len(body) < length:
        body += more()
    return data[: len(head) + 4] + body


# -- fuzzing the publish path over HTTP -------------------------------------------------------

_NAMES = st.sampled_from(
    ["Method", "Delay", "Not-Before", "Retries", "Retry-Delay", "Timeout", "Header-Forward",
     "Label", "Redact-Fields", "Deduplication-Id", "Content-Based-Deduplication",
     "Flow-Control-Key", "Flow-Control-Value", "Callback", "Failure-Callback",
     "Callback-Retries", "Forward-X-A", "Retires", "Forward-", "Callback-Forward-X"]
).map("Upstash-{}".format) | st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,15}\Z")  # fmt: skip
#: Any header value h11 lets a client send: visible bytes and obs-text, inner spaces.
_VALUE = st.binary(max_size=40).map(
    lambda b: bytes(c for c in b if c >= 0x21 and c != 0x7F) or b"x"
) | st.sampled_from([b"\xb2", b"9" * 5000, b"--5", b"1d", b"pow(2, 99999999)", b"true"])
_DESTINATION = st.sampled_from(
    ["http://127.0.0.1:9/x", "https://example.com/a", "http://169.254.169.254/", "orders",
     "http:/collapsed.example/x", "http%3A%2F%2Fexample.com%2Fx", "ftp://x", ""]
) | st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=30)  # fmt: skip
_FUZZ = settings(
    max_examples=HTTP_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@_FUZZ
@given(
    st.dictionaries(_NAMES, _VALUE, max_size=6),
    _DESTINATION,
    st.binary(max_size=200),
    st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=30),
)
def test_fuzzed_publishes_never_5xx_and_store_nothing_when_refused(
    api_only: Gateway,
    store: redis.Redis,
    headers: dict[str, bytes],
    destination: str,
    body: bytes,
    query: str,
) -> None:
    before = snapshot(store)
    response = api_only.client.post(
        f"/v2/publish/{destination}", params=httpx.QueryParams(query), content=body,
        headers=[(name.encode(), value) for name, value in headers.items()],
    )  # fmt: skip
    check_answer(response)
    if response.status_code >= 400:
        assert snapshot(store) == before


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
_ITEM = st.fixed_dictionaries(
    {"destination": _DESTINATION | _JSON},
    optional={
        "headers": st.dictionaries(_NAMES, st.text(max_size=20) | _JSON, max_size=4) | _JSON,
        "body": st.text(max_size=20) | _JSON,
        "queue": st.none() | st.text(max_size=5),
    },
)


@_FUZZ
@given(st.lists(_ITEM, max_size=5) | _JSON)
def test_fuzzed_batches_never_5xx(api_only: Gateway, store: redis.Redis, items: Any) -> None:
    before = snapshot(store)
    response = api_only.client.post("/v2/batch", json=items)
    check_answer(response)
    if response.status_code >= 400:
        assert snapshot(store) == before
    else:
        answers = response.json()
        assert isinstance(answers, list) and len(answers) == len(items)


_QUERY_KEYS = ["count", "cursor", "state", "fromDate", "toDate", "messageId", "messageIds",
               "url", "label", "topicName", "callerIp", "host", "path", "responseStatus",
               "dlqIds", "qstash_token", "x"]  # fmt: skip
_QUERY = st.lists(
    st.tuples(
        st.sampled_from(_QUERY_KEYS),
        st.text(max_size=20) | st.sampled_from(["²", "9" * 5000, "-1", "1-2-3", "IN_PROGRESS"]),
    ),
    max_size=6,
)


@_FUZZ
@given(st.sampled_from(["GET /v2/logs", "GET /v2/events", "GET /v2/dlq", "DELETE /v2/messages",
                        "DELETE /v2/dlq", "GET /v2/messages/msg_x"]), _QUERY)  # fmt: skip
def test_fuzzed_listing_queries_never_5xx(
    api_only: Gateway, route: str, query: list[tuple[str, str]]
) -> None:
    method, path = route.split(" ")
    check_answer(api_only.client.request(method, path, params=tuple(query)))


_SEGMENT = st.sampled_from(["q", "a.b-c_1", "", "bad name", "é", ".."]) | st.text(
    st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=12
)
_SCHEDULE_HEADERS = st.dictionaries(
    _NAMES | st.sampled_from(["Upstash-Cron", "Upstash-Schedule-Id", "Upstash-Queue-Name"]),
    _VALUE | st.sampled_from([b"* * * * *", b"CRON_TZ=Europe/Paris 0 4 * * *",
                              b"CRON_TZ=Nope 1 2 3 4 5", b"61 * * * *", b"*/0 * * * *"]),
    max_size=6,
)  # fmt: skip


@_FUZZ
@given(_SEGMENT, _DESTINATION, _SCHEDULE_HEADERS, st.binary(max_size=100))
def test_fuzzed_enqueues_and_schedules_never_5xx(
    api_only: Gateway,
    store: redis.Redis,
    queue: str,
    destination: str,
    headers: dict[str, bytes],
    body: bytes,
) -> None:
    raw_headers = [(name.encode(), value) for name, value in headers.items()]
    for path in (f"/v2/enqueue/{queue}/{destination}", f"/v2/schedules/{destination}"):
        before = snapshot(store)
        response = api_only.client.post(path, content=body, headers=raw_headers)
        check_answer(response)
        if response.status_code >= 400:
            assert snapshot(store) == before


@_FUZZ
@given(_SEGMENT, _JSON | st.fixed_dictionaries({"queueName": _SEGMENT | _JSON},
                                              optional={"parallelism": _JSON,
                                                        "paused": _JSON}))  # fmt: skip
def test_fuzzed_queue_and_flow_control_calls_never_5xx(
    api_only: Gateway, name: str, body: Any
) -> None:
    check_answer(api_only.client.post("/v2/queues", json=body))
    for method, path in (("GET", f"/v2/queues/{name}"), ("POST", f"/v2/queues/{name}/pause"),
                         ("GET", f"/v2/schedules/{name}"), ("PATCH", f"/v2/schedules/{name}/pause"),
                         ("GET", f"/v2/flowControl/{name}"),
                         ("POST", f"/v2/flowControl/{name}/pin?parallelism={name}&period={name}"),
                         ("POST", f"/v2/flowControl/{name}/{name}")):  # fmt: skip
        check_answer(api_only.client.request(method, path))


# -- secrets never reach the logs -------------------------------------------------------------

BODY_SECRET = "body-secret-7f3a9c"
HEADER_SECRET = "header-secret-51de0b"


@pytest.mark.parametrize("log_json", ["false", "true"])
def test_tokens_keys_and_bodies_never_logged(
    make_gateway: Callable[..., Gateway], receiver: Receiver, tmp_path: Path, log_json: str
) -> None:
    gateway = make_gateway(log_level="DEBUG", log_json=log_json)
    # Failures, retries and a dead letter, so every delivery log line is written.
    path = receiver.new_path(Answer(500, body=b"nope"), Answer(503))
    secret_headers = {
        "Upstash-Forward-X-Api-Key": HEADER_SECRET,
        "Upstash-Retries": "1",
        "Upstash-Retry-Delay": "10",
        "Upstash-Not-A-Setting": HEADER_SECRET,  # ignored, its name logged at debug
        "Content-Type": "application/json",
    }
    message = gateway.publish(
        receiver.url(path), f'{{"s": "{BODY_SECRET}"}}'.encode(), **secret_headers
    )
    assert message.status_code == 200
    message_id = message.json()["messageId"]
    # A refused publish and a wrong token, with secrets in them.
    assert gateway.publish(receiver.url(path), BODY_SECRET.encode(),
                           **{"Upstash-Retries": HEADER_SECRET}).status_code == 400  # fmt: skip
    wrong = httpx.post(f"{gateway.url}/v2/publish/{receiver.url(path)}",
                       headers={"Authorization": f"Bearer {HEADER_SECRET}"})  # fmt: skip
    assert wrong.status_code == 401
    query_token = httpx.get(f"{gateway.url}/v2/logs", params={"qstash_token": TOKEN})
    assert query_token.status_code == 200
    wait_until(
        lambda: gateway.client.get("/v2/dlq", params={"messageId": message_id}).json()["messages"],
        what="dead letter",
    )
    signatures = [r.header("upstash-signature") or "" for r in receiver.received(path)]
    assert len(signatures) == 2 and all(signatures)
    gateway.stop()
    log = gateway.log_path.read_text()
    # the log is there, at debug level (Herald's own debug line, not a library's)
    assert "ignored unknown headers: upstash-not-a-setting" in log.lower() and message_id in log
    for secret in (TOKEN, CURRENT_KEY, NEXT_KEY, BODY_SECRET, HEADER_SECRET, *signatures):
        assert secret not in log, f"{secret[:12]}... leaked into the log"
