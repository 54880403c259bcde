"""Server-sent events do not tie up the web server: 200 open streams, and the API still answers.

Against the real server process that `bin/citytwin up` runs (`bin/citytwin serve`), on the test
database. Before, each stream held one of gunicorn's 12 threads: 14 streams starved `/api/`.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from urllib.parse import urlparse

import pytest
import requests
from django.utils import timezone
from rest_framework.authtoken.models import Token

from citytwin.scenarios.models import Run
from citytwin.scenarios.services import baseline_of
from jobs.models import Job

STREAMS_PER_USER = 20  # the web_server fixture's cap
USERS = 10  # 10 x 20 = 200 streams


@pytest.fixture
def server(web_server):
    return web_server


def _running_baseline_run(city) -> Run:
    job = Job.objects.create(
        kind="run_traffic",
        status=Job.Status.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        stage="assigning",
        progress_percent=10.0,
    )
    return Run.objects.create(
        job=job,
        scenario=baseline_of(city),
        scenario_version=0,
        simulator="traffic",
        engine_version="test",
        input_checksum=uuid.uuid4().hex,
    )


def _open_stream(url: str, path: str, token: str | None) -> socket.socket:
    host = urlparse(url)
    sock = socket.create_connection((host.hostname, host.port), timeout=10)
    auth = f"Authorization: Token {token}\r\n" if token else ""
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host.netloc}\r\nAccept: text/event-stream\r\n"
        f"{auth}\r\n".encode()
    )
    return sock


def _read_until(sock: socket.socket, marker: bytes, timeout_s: float = 30.0) -> bytes:
    sock.settimeout(timeout_s)
    data = b""
    deadline = time.monotonic() + timeout_s
    while marker not in data:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {marker!r} within {timeout_s} s; got {data[-500:]!r}")
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _events(data: bytes) -> list[dict]:
    body = data.split(b"\r\n\r\n", 1)[-1] if data.startswith(b"HTTP/") else data
    body = body.decode(errors="replace")
    return [
        json.loads(line[len("data: ") :])
        for line in body.splitlines()
        if line.startswith("data: {") and len(line) > len("data: {}")
    ]


@pytest.mark.django_db(transaction=True)
def test_200_open_streams_leave_the_api_answering(server, committed_city, django_user_model):
    city = committed_city("Helsinki")
    run = _running_baseline_run(city)
    path = f"/api/runs/{run.pk}/events/"
    tokens = []
    for i in range(USERS):
        user = django_user_model.objects.create_user(username=f"sse-{i}-{uuid.uuid4().hex[:6]}")
        tokens.append(Token.objects.create(user=user).key)
    streams = []
    try:
        for token in tokens:
            for _ in range(STREAMS_PER_USER):
                streams.append(_open_stream(server, path, token))
        for sock in streams:
            head = _read_until(sock, b"event: run")
            assert head.startswith(b"HTTP/1.1 200"), head[:200]
            assert _events(head)[0]["progress_percent"] == 10.0
        # all 200 are open: the API still answers at once, several times over
        for _ in range(5):
            started = time.monotonic()
            answer = requests.get(server + "/api/", timeout=5)
            assert answer.status_code == 200
            assert time.monotonic() - started < 1.0
        # a client's 21st stream is refused with a reason, not queued
        extra = requests.get(
            server + path, headers={"Authorization": f"Token {tokens[0]}"}, timeout=5
        )
        assert extra.status_code == 429, extra.text[:300]
        assert "at most 20" in extra.json()["error"]
        # progress reaches the streams through NOTIFY (no polling): every stream sees it
        Job.objects.filter(pk=run.pk).update(progress_percent=55.0, stage="half way")
        for sock in streams[::20]:
            data = _read_until(sock, b'"progress_percent": 55.0')
            assert _events(data)[-1]["stage"] == "half way"
        Job.objects.filter(pk=run.pk).update(
            status=Job.Status.SUCCEEDED, progress_percent=100.0, finished_at=timezone.now()
        )
        for sock in streams[::20]:
            data = _read_until(sock, b"event: end")
            assert _events(data)[-1]["status"] == "succeeded"
    finally:
        for sock in streams:
            sock.close()
    # closed streams are released: the client may open streams again
    time.sleep(1.0)
    again = requests.get(server + path, headers={"Authorization": f"Token {tokens[0]}"}, timeout=5)
    assert again.status_code == 200 and "event: end" in again.text


@pytest.mark.django_db(transaction=True)
def test_private_run_stream_is_not_found_for_others(server, committed_city, django_user_model):
    city = committed_city("Helsinki")
    owner = django_user_model.objects.create_user(username=f"own-{uuid.uuid4().hex[:6]}")
    other = django_user_model.objects.create_user(username=f"oth-{uuid.uuid4().hex[:6]}")
    scenario = baseline_of(city).__class__.objects.create(city=city, name="mine", owner=owner)
    run = _running_baseline_run(city)
    Run.objects.filter(pk=run.pk).update(scenario=scenario)
    path = f"/api/runs/{run.pk}/events/"
    token = Token.objects.create(user=other).key
    assert requests.get(server + path, timeout=5).status_code == 404
    denied = requests.get(server + path, headers={"Authorization": f"Token {token}"}, timeout=5)
    assert denied.status_code == 404 and denied.json()["field"] == "id"
    mine = Token.objects.create(user=owner).key
    sock = _open_stream(server, path, mine)
    try:
        assert _events(_read_until(sock, b"event: run"))[0]["scenario"] == scenario.pk
    finally:
        sock.close()
