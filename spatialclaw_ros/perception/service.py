"""The perception service: the same operations as in-process perception, over HTTP.

FastAPI; bearer-token authentication (401 without a token, 403 with a wrong one); bodies are npz
archives (see wire.py; pickle refused) no larger than the configured limit (413); bad input gets a
4xx with the reason in `detail`. Model calls run one at a time in a worker thread.
"""

from __future__ import annotations

import hmac
import threading
from typing import Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from spatialclaw_ros.perception import wire
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.types import Perception


def create_app(perception: Perception, token: str, max_request_bytes: int = 512 << 20) -> FastAPI:
    if not token:
        raise PerceptionError("the perception service needs a token (set SPATIALCLAW_PERCEPTION_TOKEN or --token)")
    app = FastAPI(title="spatialclaw perception", version="1")
    model_lock = threading.Lock()

    def authorise(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(403, "wrong token")

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_request_bytes:
            raise HTTPException(413, f"request body of {declared} bytes exceeds the limit of {max_request_bytes}")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > max_request_bytes:
                raise HTTPException(413, f"request body exceeds the limit of {max_request_bytes} bytes")
        return bytes(body)

    async def handle(request: Request, operation: Callable[[dict, dict], bytes]) -> Response:
        authorise(request)
        body = await read_body(request)
        try:
            meta, arrays = wire.unpack(body)
        except wire.WireError as error:
            status = 415 if not body.startswith(wire.ZIP_MAGIC) else 400
            raise HTTPException(status, str(error)) from error

        def run() -> bytes:
            with model_lock:
                return operation(meta, arrays)

        try:
            return Response(await run_in_threadpool(run), media_type=wire.NPZ_MEDIA_TYPE)
        except PerceptionError as error:
            raise HTTPException(400, str(error)) from error

    def reconstruct(meta: dict, arrays: dict) -> bytes:
        frames = wire.decode_frames(meta, arrays)
        indices = meta.get("frame_indices")
        return wire.encode_reconstruction(perception.reconstruct(frames, None if indices is None else list(indices)))

    def segment(meta: dict, arrays: dict) -> bytes:
        frames = wire.decode_frames(meta, arrays)
        result = perception.segment(frames, wire.decode_request(meta, arrays))
        return wire.encode_segmentation(result, (frames[0].height, frames[0].width))

    def exists(meta: dict, arrays: dict) -> bytes:
        frames = wire.decode_frames(meta, arrays)
        name = meta.get("name")
        if not isinstance(name, str) or not name.strip():
            raise PerceptionError("exists needs a non-empty 'name'")
        indices = meta.get("frame_indices")
        found = perception.exists(frames, name, None if indices is None else list(indices))
        return wire.pack({"exists": bool(found)}, {})

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.post("/reconstruct")
    async def reconstruct_endpoint(request: Request) -> Response:
        return await handle(request, reconstruct)

    @app.post("/segment")
    async def segment_endpoint(request: Request) -> Response:
        return await handle(request, segment)

    @app.post("/exists")
    async def exists_endpoint(request: Request) -> Response:
        return await handle(request, exists)

    return app
