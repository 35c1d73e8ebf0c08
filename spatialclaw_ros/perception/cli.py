"""`spatialclaw serve-perception`: run the perception service (FastAPI + uvicorn)."""

from __future__ import annotations

import argparse
import secrets
import sys

from spatialclaw_ros.perception import ray_cli
from spatialclaw_ros.perception.config import ENV_PREFIX, RECONSTRUCT_BACKENDS, SEGMENT_BACKENDS

TOKEN_ENV = ENV_PREFIX + "TOKEN"  # read by PerceptionConfig.load like every other setting


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve-perception",
        help="serve Reconstruct / SAM3 over HTTP (token-authenticated, wire-codec bodies)",
        description="Serve the perception models over HTTP so agents on other machines can use "
        "one GPU. Clients send 'Authorization: Bearer <token>'; the token comes from --token, "
        f"${TOKEN_ENV}, or is generated and printed at start.",
    )
    parser.add_argument("--config", help="perception YAML (e.g. config/perception.yaml)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="bind address (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    parser.add_argument(
        "--token", help=f"bearer token (default: ${TOKEN_ENV}, else a random one is printed)"
    )
    parser.add_argument(
        "--reconstruct", choices=RECONSTRUCT_BACKENDS, help="reconstruction backend"
    )
    parser.add_argument("--segment", choices=SEGMENT_BACKENDS, help="segmentation backend")
    parser.add_argument("--da3-model", help="DA3 hub id or local directory")
    parser.add_argument("--sam3-model", help="SAM 3 hub id or local directory")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    parser.add_argument(
        "--max-request-mb", type=int, help="largest accepted request body (default 512)"
    )
    ray_cli.register_arguments(parser)
    parser.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from spatialclaw_ros.perception.build import build_perception
    from spatialclaw_ros.perception.config import PerceptionConfig
    from spatialclaw_ros.perception.errors import PerceptionError
    from spatialclaw_ros.perception.service import create_app

    overrides = {
        "reconstruct_backend": args.reconstruct,
        "segment_backend": args.segment,
        "da3_model": args.da3_model,
        "sam3_model": args.sam3_model,
        "device": args.device,
        "max_request_megabytes": args.max_request_mb,
        "token": args.token or None,
    }
    try:
        config = PerceptionConfig.load(args.config, overrides)
        config.service_url = None  # the server runs the models itself
        token = config.token
        if not token:
            token = secrets.token_urlsafe(24)
            print(
                f"perception token (send as 'Authorization: Bearer ...'): {token}", file=sys.stderr
            )
        if args.ray is not None:  # the replicas build the models themselves
            return ray_cli.serve_on_ray(args, config, token)
        app = create_app(build_perception(config), token, config.decode_limits())
    except (PerceptionError, OSError) as error:
        print(f"spatialclaw serve-perception: {error}", file=sys.stderr)
        return 2
    print(
        f"perception: reconstruct={config.reconstruct_backend} segment={config.segment_backend} "
        f"on http://{args.host}:{args.port}",
        file=sys.stderr,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
