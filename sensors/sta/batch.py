"""JSON batch requests (SensorThings v1.1, 18-088 §11 with the OData 4.01 JSON format):
``POST /sta/v1.1/$batch`` with ``{"requests": [{id, method, url, body, atomicityGroup,
dependsOn}]}``. Requests run in order; those of one atomicity group in one transaction (if one
fails, the group is rolled back: the failing request answers its error, the others 424);
``$<id>`` at the start of a url, or as an ``@iot.id`` in a body, names the entity that request
``<id>`` created."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.db import transaction

from .errors import StaError
from .views import VERSION_PATH, Answer, handle

MAX_REQUESTS = 1000
CREATED = re.compile(r"\((\d+)\)$")


class _GroupFailed(Exception):
    pass


def _split_url(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    path = parts.path
    marker = f"/sta/{VERSION_PATH}/"
    if marker in path:
        path = path.split(marker, 1)[1]
    elif path.startswith(f"{VERSION_PATH}/"):
        path = path[len(VERSION_PATH) + 1 :]
    return path.lstrip("/"), dict(parse_qsl(parts.query, keep_blank_values=True))


def _substitute(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "@iot.id" and isinstance(v, str) and v.startswith("$") and v[1:] in refs:
                out[k] = int(CREATED.search(refs[v[1:]]).group(1))
            else:
                out[k] = _substitute(v, refs)
        return out
    if isinstance(value, list):
        return [_substitute(v, refs) for v in value]
    return value


def _one(ctx, req: Any, refs: dict[str, str], failed: set[str]) -> tuple[str | None, Answer]:
    if not isinstance(req, dict):
        return None, Answer(400, {"error": "requests[]: expected objects", "field": "requests"})
    rid = req.get("id")
    rid = str(rid) if rid is not None else None
    method = str(req.get("method", "")).upper()
    url = req.get("url")
    if not isinstance(url, str) or method not in ("GET", "POST", "PATCH", "PUT", "DELETE"):
        return rid, Answer(400, {"error": "each request needs a method and a url", "field": "url"})
    depends = req.get("dependsOn") or []
    if any(str(d) in failed for d in depends):
        return rid, Answer(
            424, {"error": f"a request it depends on failed: {depends}", "code": 424}
        )
    if url.startswith("$"):
        head, _, rest = url[1:].partition("/")
        if head not in refs:
            return rid, Answer(
                400, {"error": f"url: ${head} names no earlier created entity", "field": "url"}
            )
        url = refs[head] + ("/" + rest if rest else "")
    path, params = _split_url(url)
    answer = handle(ctx, method, path, params, _substitute(req.get("body"), refs))
    if rid is not None and answer.status == 201:
        refs[rid] = answer.headers["Location"].split(f"/sta/{VERSION_PATH}/", 1)[1]
    return rid, answer


def _response(rid: str | None, answer: Answer) -> dict:
    out: dict[str, Any] = {"status": answer.status}
    if rid is not None:
        out["id"] = rid
    if answer.headers:
        out["headers"] = {k.lower(): v for k, v in answer.headers.items()}
    if answer.raw is not None:
        out["body"] = answer.raw.content.decode()
    elif answer.body is not None:
        out["body"] = answer.body
    return out


def run_batch(ctx, body: Any) -> Answer:
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        return Answer(
            400, {"error": 'body: expected {"requests": [...]}', "field": "requests", "code": 400}
        )
    requests = body["requests"]
    if len(requests) > MAX_REQUESTS:
        raise StaError(413, f"requests: at most {MAX_REQUESTS} in one batch")
    refs: dict[str, str] = {}
    failed: set[str] = set()
    responses: list[dict] = []
    i = 0
    while i < len(requests):
        group = requests[i].get("atomicityGroup") if isinstance(requests[i], dict) else None
        if group is None:
            rid, answer = _one(ctx, requests[i], refs, failed)
            if answer.status >= 400 and rid is not None:
                failed.add(rid)
            responses.append(_response(rid, answer))
            i += 1
            continue
        j = i
        while (
            j < len(requests)
            and isinstance(requests[j], dict)
            and requests[j].get("atomicityGroup") == group
        ):
            j += 1
        members = requests[i:j]
        answers: list[tuple[str | None, Answer]] = []
        saved_refs = dict(refs)
        try:
            with transaction.atomic():
                for req in members:
                    rid, answer = _one(ctx, req, refs, failed)
                    answers.append((rid, answer))
                    if answer.status >= 400:
                        raise _GroupFailed
        except _GroupFailed:
            refs.clear()
            refs.update(saved_refs)
            bad_index = len(answers) - 1
            answers = [
                answers[k]
                if k == bad_index
                else (
                    str(r.get("id")) if r.get("id") is not None else None,
                    Answer(424, {"error": f"atomicity group {group} failed", "code": 424}),
                )
                for k, r in enumerate(members)
            ]
            failed.update(r for r, _ in answers if r is not None)
        responses.extend(_response(r, a) for r, a in answers)
        i = j
    return Answer(200, {"responses": responses})
