"""The server `make serve` runs: MLflow's scoring protocol for one model, an asyncio front that
reads requests and worker processes that answer them.

- The front (uvicorn, one process) reads each request to its end before a worker sees it, however
  slowly its client sends it: a slow or stalled client holds a coroutine, never a worker. A body
  declared larger than `serve.max_request_bytes` is refused (413) before it is read, one that grows
  past it while read too, and one not complete within `serve.read_timeout_s` gets 408.
- The workers (`serve.workers` processes, each with its own copy of the model, loaded through the
  project's trusted loader) take requests from one queue, so a request goes to whichever worker is
  free, whichever connection it came on: CPU-bound answers keep both cores busy, and no worker
  holds connections while another idles. A worker that dies is replaced.
- Each worker's model is moved out of the garbage collector's reach (`gc.freeze`): it lives as
  long as the worker, and every full collection would walk it all again.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from leadsift.core import scoring_protocol
from leadsift.core.model_store import load_model
from leadsift.core.scoring_protocol import Answer, Limits, RequestRefusedError, error_answer

log = logging.getLogger("leadsift.serve")
ROUTES = {"/ping": "GET", "/health": "GET", "/version": "GET", "/invocations": "POST"}
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Prepare = Callable[[Any], Any]  # picklable: sent to each worker process

_served: dict[str, Any] = {}  # in a worker process: its model and limits


def _load(model_dir: str, trusted: Sequence[str], limits: Limits, prepare: Prepare | None) -> None:
    """A worker's start: its own copy of the model, through the trusted loader (then wrapped by
    `prepare`, where the pipeline serves it with more, such as the click scorer's state), frozen."""
    model = load_model(model_dir, trusted)
    _served.update(model=prepare(model) if prepare else model, limits=limits)
    gc.collect()
    gc.freeze()


def _answer(body: bytes, content_type: str) -> Answer:
    return scoring_protocol.answer(_served["model"], body, content_type, _served["limits"])


def _ready() -> int:
    return os.getpid()


@dataclass
class Workers:
    """`n` processes answering requests from one queue, started with the model loaded."""

    model_dir: Path
    trusted: Sequence[str]
    limits: Limits
    n: int
    prepare: Prepare | None = None

    def __post_init__(self) -> None:
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawned, not forked: the front has loaded numerical libraries whose threads a fork
        # would leave half-copied
        pool = ProcessPoolExecutor(
            self.n,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load,
            initargs=(str(self.model_dir), list(self.trusted), self.limits, self.prepare),
        )
        started = [pool.submit(_ready) for _ in range(self.n)]
        for future in started:
            future.result()
        return pool

    async def answer(self, body: bytes, content_type: str) -> Answer:
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(
                pool, _answer, body, content_type
            )
        except BrokenProcessPool:
            log.error("a worker died while answering; starting the workers again")
            if self._pool is pool:
                self._pool = self._start()
            return error_answer(500, "a worker died while scoring; it was replaced, send again")

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


def _too_large(limit: int) -> RequestRefusedError:
    return RequestRefusedError(413, f"the body exceeds serve.max_request_bytes = {limit:,} bytes")


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The request body, refused (413) as soon as it grows past `limit` bytes."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestRefusedError(400, "the client went away before the body was complete")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


class ScoringApp:
    """The ASGI app of the front: GET /ping and /health (200 once the workers hold the model),
    GET /version (MLflow's), POST /invocations (answered by a worker)."""

    def __init__(self, workers: Workers) -> None:
        self.workers = workers
        self.limits = workers.limits

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path, method, extra = scope["path"], scope["method"], []
        if path not in ROUTES:
            answer = error_answer(404, f"no such path {path}; POST to /invocations")
        elif method != ROUTES[path]:
            answer, extra = error_answer(405, f"{path} takes {ROUTES[path]}"), [(b"allow", b"POST")]
        elif path == "/invocations":
            answer = await self._invocation(scope, receive)
        else:
            answer = Answer(200, version("mlflow").encode() if path == "/version" else b"\n")
        headers = [
            (b"content-type", answer.media.encode()),
            (b"content-length", str(len(answer.body)).encode()),
            *extra,
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _invocation(self, scope: dict[str, Any], receive: Receive) -> Answer:
        headers = dict(scope["headers"])
        limit = self.limits.max_request_bytes
        try:
            if int(headers.get(b"content-length", b"0")) > limit:
                raise _too_large(limit)
            body = await asyncio.wait_for(
                _read_body(receive, limit), timeout=self.limits.read_timeout_s
            )
        except RequestRefusedError as refusal:
            return error_answer(refusal.status, str(refusal))
        except TimeoutError:
            seconds = self.limits.read_timeout_s
            return error_answer(
                408, f"the body was not received within serve.read_timeout_s = {seconds:g} s"
            )
        except ValueError:
            return error_answer(400, "Content-Length is not a number")
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        return await self.workers.answer(body, content_type)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        self.workers.close()
        await send({"type": "lifespan.shutdown.complete"})
