"""The perception service: the same operations as in-process perception, over HTTP.

FastAPI; bearer-token authentication (401 without a token, 403 with a wrong one); bodies are
messages of the one wire codec (`application/vnd.spatialclaw.wire`, see perception/wire.py; pickle
never). Every bad input gets a 4xx with the reason in `detail`: 415 for a body of another media
type, 413 for one over a limit (body size, buffers, structure, nesting, frames per request,
pixels per image, points, text: `DecodeLimits`), 400 for anything else malformed, naming the
field. Decoding and model calls run on worker threads, never on the event loop, so `/health`
answers while they work; at most `max_concurrent_decodes` bodies are held and decoded at once,
which bounds memory. Model calls run one at a time.

`/health` says the process is alive; `/ready` says whether the models are loaded (503 with the
reason until they are). Models load in the background at start; until they are loaded, or while a
failed load waits for its retry, the operations answer 503 with the cause.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from spatialclaw_ros.perception import wire
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.limits import DecodeLimits, LimitExceeded
from spatialclaw_ros.perception.readiness import ModelLoader, load_models
from spatialclaw_ros.perception.types import Perception
from spatialclaw_ros.perception.wire import ExistsAnswer, ExistsCall, ReconstructCall, SegmentCall

# What an operation makes of a decoded request: the model call, still to run.
Prepared = Callable[[], bytes]


def create_app(
    perception: Perception,
    token: str,
    limits: DecodeLimits | None = None,
    *,
    loader: ModelLoader | None = None,
    max_concurrent_decodes: int = 2,
) -> FastAPI:
    if not token:
        raise PerceptionError(
            "the perception service needs a token (set SPATIALCLAW_PERCEPTION_TOKEN or --token)"
        )
    limits = limits or DecodeLimits()
    loader = loader or ModelLoader(lambda: load_models(perception))

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        # Everything imported and built so far lives as long as the process. Frozen, the cyclic
        # collector's full passes skip it: unfrozen they took ~50 ms (more on a busy machine), all
        # of it holding the GIL, so /health stalled behind them.
        gc.collect()
        gc.freeze()
        loader.start()
        yield
        loader.stop()

    app = FastAPI(title="spatialclaw perception", version="1", lifespan=lifespan)
    model_lock = threading.Lock()
    decode_slots = asyncio.Semaphore(max_concurrent_decodes)

    def authorise(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise HTTPException(
                401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(403, "wrong token")

    def require_ready() -> None:
        status = loader.status()
        if not status.ready:
            retry = (
                {}
                if status.retry_in_s is None
                else {"Retry-After": str(max(1, round(status.retry_in_s)))}
            )
            raise HTTPException(
                503, f"perception models not ready: {status.reason}", headers=retry
            )

    def check_media_type(request: Request) -> None:
        given = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if given != wire.MEDIA_TYPE:
            raise HTTPException(
                415,
                f"the body must be {wire.MEDIA_TYPE} (the spatialclaw wire codec), got "
                f"{given or 'no content type'}; npz, JSON and pickle are not accepted",
            )

    async def read_body(request: Request) -> bytearray:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            raise HTTPException(
                413,
                f"request body of {declared} bytes exceeds the limit of {limits.max_body_bytes}",
            )
        chunks, size = [], 0
        async for chunk in request.stream():
            chunks.append(chunk)
            size += len(chunk)
            if size > limits.max_body_bytes:
                raise HTTPException(
                    413, f"request body exceeds the limit of {limits.max_body_bytes} bytes"
                )
        # one copy, no growing buffer; a bytearray, so the arrays decoded in place are writable
        return bytearray().join(chunks)

    def decode(body: bytearray, call: type, prepare: Callable[[Any], Prepared]) -> Prepared:
        try:
            return prepare(wire.decode_request(body, call, limits))
        except LimitExceeded as error:
            raise HTTPException(413, str(error)) from error
        except (wire.WireError, PerceptionError) as error:
            # malformed, or a well-formed request the operation cannot serve
            raise HTTPException(400, str(error)) from error

    async def handle(request: Request, call: type, prepare: Callable[[Any], Prepared]) -> Response:
        authorise(request)
        require_ready()
        check_media_type(request)
        async with decode_slots:
            body = await read_body(request)
            answer = await run_in_threadpool(decode, body, call, prepare)
            del body

        def run() -> bytes:
            with model_lock:
                return answer()

        try:
            return Response(await run_in_threadpool(run), media_type=wire.MEDIA_TYPE)
        except PerceptionError as error:
            raise HTTPException(400, str(error)) from error

    def reconstruct(call: ReconstructCall) -> Prepared:
        return lambda: wire.encode(perception.reconstruct(call.frames, call.frame_indices))

    def segment(call: SegmentCall) -> Prepared:
        call.request.validate(call.frames)
        return lambda: wire.encode(perception.segment(call.frames, call.request))

    def exists(call: ExistsCall) -> Prepared:
        return lambda: wire.encode(
            ExistsAnswer(bool(perception.exists(call.frames, call.name, call.frame_indices)))
        )

    @app.get("/health")
    async def health() -> dict:
        """Liveness: answered on the event loop, whatever the models and decoders are doing."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        status = loader.status()
        body = {
            "status": status.state,
            "reason": status.reason,
            "attempts": status.attempts,
            "retry_in_s": status.retry_in_s,
        }
        return JSONResponse(body, status_code=200 if status.ready else 503)

    @app.post("/reconstruct")
    async def reconstruct_endpoint(request: Request) -> Response:
        return await handle(request, ReconstructCall, reconstruct)

    @app.post("/segment")
    async def segment_endpoint(request: Request) -> Response:
        return await handle(request, SegmentCall, segment)

    @app.post("/exists")
    async def exists_endpoint(request: Request) -> Response:
        return await handle(request, ExistsCall, exists)

    return app
