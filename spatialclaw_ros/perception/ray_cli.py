"""`spatialclaw serve-perception --ray`: the perception service as a Ray Serve deployment.

Kept apart from ray_serve.py so that registering the flags needs no Ray installed.
"""

from __future__ import annotations

import argparse
import sys
import time


def register_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("on a Ray cluster (pip install '.[ray]'; docs/scale.md)")
    group.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="deploy on Ray Serve instead of one process: ADDRESS of a running cluster ('auto', "
        "host:6379), or none for $RAY_ADDRESS or a new one on this machine; "
        "--host/--port are then "
        "Serve's HTTP proxy",
    )
    group.add_argument(
        "--replicas",
        type=int,
        default=None,
        help="a fixed number of replicas (default: autoscale)",
    )
    group.add_argument(
        "--min-replicas", type=int, default=1, help="autoscaling: fewest replicas (default 1)"
    )
    group.add_argument(
        "--max-replicas", type=int, default=4, help="autoscaling: most replicas (default 4)"
    )
    group.add_argument(
        "--target-queue",
        type=float,
        default=2.0,
        help="autoscaling: requests queued or running per replica to aim at (default 2)",
    )
    group.add_argument(
        "--gpus-per-replica",
        type=float,
        default=1.0,
        help="GPUs each replica holds (default 1; 0 on CPU)",
    )
    group.add_argument(
        "--cpus-per-replica", type=float, default=1.0, help="CPUs each replica holds (default 1)"
    )


def serve_on_ray(args: argparse.Namespace, config, token: str) -> int:
    """Deploy, print the URL, and keep the deployment until interrupted (Ctrl-C removes it)."""
    import ray

    from spatialclaw_ros.perception.ray_serve import (
        ServeOptions,
        cache_stats,
        serve_perception,
        stop_perception,
    )

    options = ServeOptions(
        replicas=args.replicas,
        min_replicas=args.min_replicas,
        max_replicas=args.max_replicas,
        target_ongoing_requests=args.target_queue,
        gpus_per_replica=args.gpus_per_replica,
        cpus_per_replica=args.cpus_per_replica,
        host=args.host,
        port=args.port,
    )
    try:
        ray.init(address=args.ray or None, include_dashboard=False)
    except ConnectionError as error:
        print(
            f"spatialclaw serve-perception: cannot reach the Ray cluster: {error}", file=sys.stderr
        )
        return 2
    try:
        url = serve_perception(config, token, options)
        print(
            f"perception on Ray Serve: reconstruct={config.reconstruct_backend} "
            f"segment={config.segment_backend} "
            f"at {url} (clients: service_url={url})",
            file=sys.stderr,
        )
        while True:
            time.sleep(60)
            stats = cache_stats()
            print(
                f"cache: {stats['hit_rate']:.0%} hits of "
                f"{stats['hits'] + stats['misses']}, requests per replica "
                f"{stats['requests_per_replica']}",
                file=sys.stderr,
            )
    except KeyboardInterrupt:
        stop_perception()
        return 0
    finally:
        ray.shutdown()
