"""Perception as a Ray Serve deployment: the perception service, replicated over a cluster's GPUs.

Each replica runs the same FastAPI app as `serve-perception` (token, wire-codec bodies, the same
routes), so agents reach it with the same `PerceptionClient` at Serve's HTTP address and nothing
in the agent or kernel changes. A replica builds its backends and loads their models once, when
it starts, and Serve routes requests to it only after that; they stay for its lifetime. Serve
sends each request to a replica with a short queue, and with autoscaling adds replicas when
requests queued or running per replica stay above `target_ongoing_requests` (removing them when
the queue drains).

Replicas share one result cache: a small Ray actor indexes results by the same keys as the
in-process cache (frame content, backend, parameters), and the results themselves stay in Ray's
object store, so a second question about the same frames is a hit whichever replica it reaches.
A result whose replica has gone (scaled down, crashed) is computed again. The index also counts
hits, misses and requests per replica for `cache_stats`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import ray
from ray import serve
from ray.exceptions import RayError

from spatialclaw_ros.perception.build import build_reconstructor, build_segmenter
from spatialclaw_ros.perception.config import PerceptionConfig
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.local import LocalPerception
from spatialclaw_ros.perception.readiness import load_models
from spatialclaw_ros.perception.service import create_app

T = TypeVar("T")
APP_NAME = "spatialclaw-perception"
INDEX_NAME = "spatialclaw-perception-cache"


@dataclass(frozen=True)
class ServeOptions:
    """How many replicas, on what. `replicas` fixes the count; None scales between `min_replicas`
    and `max_replicas` on queue length."""

    replicas: int | None = None
    min_replicas: int = 1
    max_replicas: int = 4
    # per replica; the model lock runs one at a time, the rest queue
    target_ongoing_requests: float = 2.0
    # 0 on CPU-only clusters; a fraction packs several replicas on a GPU
    gpus_per_replica: float = 1.0
    cpus_per_replica: float = 1.0
    host: str = "127.0.0.1"  # Serve's HTTP proxy; 0.0.0.0 to reach it from other machines
    port: int = 8000
    route_prefix: str = "/"

    def __post_init__(self) -> None:
        if self.replicas is not None and self.replicas < 1:
            raise PerceptionError("replicas must be at least 1")
        if not 0 <= self.min_replicas <= self.max_replicas or self.max_replicas < 1:
            raise PerceptionError("need 0 <= min_replicas <= max_replicas and max_replicas >= 1")
        if self.target_ongoing_requests <= 0:
            raise PerceptionError("target_ongoing_requests must be positive")
        if self.gpus_per_replica < 0 or self.cpus_per_replica < 0:
            raise PerceptionError("GPUs and CPUs per replica cannot be negative")

    def deployment_options(self) -> dict[str, Any]:
        """The options of `serve.deployment` for these settings."""
        options: dict[str, Any] = {
            "ray_actor_options": {
                "num_gpus": self.gpus_per_replica,
                "num_cpus": self.cpus_per_replica,
            },
            # what a replica accepts at once; more wait in Serve's queue, which the autoscaler
            # watches
            "max_ongoing_requests": max(1, int(2 * self.target_ongoing_requests)),
        }
        if self.replicas is not None:
            options["num_replicas"] = self.replicas
        else:
            options["autoscaling_config"] = {
                "min_replicas": self.min_replicas,
                "max_replicas": self.max_replicas,
                "target_ongoing_requests": self.target_ongoing_requests,
            }
        return options


class CacheIndex:
    """The replicas' shared index (a Ray actor): key -> the result's object reference, least
    recently used dropped first; dropping the reference frees the result."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.entries: OrderedDict[tuple, list[ray.ObjectRef]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.requests: dict[str, int] = {}  # per replica

    def lookup(self, key: tuple, replica: str) -> list[ray.ObjectRef] | None:
        """The result's reference, boxed in a list so Ray hands it over unresolved."""
        self.requests[replica] = self.requests.get(replica, 0) + 1
        boxed = self.entries.get(key)
        if boxed is None:
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return boxed

    def store(self, key: tuple, boxed: list[ray.ObjectRef]) -> None:
        self.entries[key] = boxed
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

    def lost(self, key: tuple) -> None:
        """A hit whose result was gone (its replica ended): counted as the miss it turned out to
        be."""
        self.entries.pop(key, None)
        self.hits -= 1
        self.misses += 1

    def stats(self) -> dict[str, Any]:
        asked = self.hits + self.misses
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hits / asked if asked else 0.0,
            "entries": len(self.entries),
            "requests_per_replica": dict(self.requests),
        }


class SharedResultCache:
    """`ResultCache.get_or_compute` over the cluster's index, for one replica's LocalPerception."""

    def __init__(self, index: Any, replica: str) -> None:
        self.index = index
        self.replica = replica

    def get_or_compute(self, key: tuple, compute: Callable[[], T]) -> T:
        boxed = ray.get(self.index.lookup.remote(key, self.replica))
        if boxed is not None:
            try:
                # arrays come back read-only: a caller cannot spoil the hit
                return ray.get(boxed[0])
            except RayError:
                ray.get(self.index.lost.remote(key))
        value = compute()
        self.index.store.remote(key, [ray.put(value)])
        return value


class PerceptionReplica:
    """One replica: the backends, built once, behind the perception service's app."""

    def __init__(self, config: PerceptionConfig, token: str) -> None:
        index = ray.get_actor(INDEX_NAME, namespace=APP_NAME)
        cache = SharedResultCache(index, serve.get_replica_context().replica_tag)
        self.perception = LocalPerception(
            build_reconstructor(config), build_segmenter(config), cache
        )
        # Loaded here, before Serve routes anything to this replica: a new replica (autoscaling)
        # never answers "not ready", and weights that cannot load fail the deployment with the
        # cause.
        load_models(self.perception)
        # not `self.app`: Serve's wrapper has a property of that name
        self.service_app = create_app(self.perception, token, config.decode_limits())

    def __serve_build_asgi_app__(self) -> Any:
        return self.service_app


def serve_perception(
    config: PerceptionConfig, token: str, options: ServeOptions = ServeOptions()
) -> str:
    """Deploy perception on the connected cluster; returns the URL for `PerceptionClient`."""
    if not token:
        raise PerceptionError(
            "the perception service needs a token (set SPATIALCLAW_PERCEPTION_TOKEN or --token)"
        )
    if config.service_url:
        raise PerceptionError("replicas run the models themselves: unset service_url")
    # The index lives in the app's namespace, detached from this driver so the deployment outlives
    # it.
    ray.remote(CacheIndex).options(
        name=INDEX_NAME, namespace=APP_NAME, lifetime="detached", num_cpus=0, get_if_exists=True
    ).remote(config.cache_entries)
    serve.start(http_options={"host": options.host, "port": options.port})
    deployment = serve.deployment(name="perception", **options.deployment_options())(
        serve.ingress()(PerceptionReplica)
    )
    serve.run(deployment.bind(config, token), name=APP_NAME, route_prefix=options.route_prefix)
    host = "127.0.0.1" if options.host in ("0.0.0.0", "::") else options.host
    return f"http://{host}:{options.port}{options.route_prefix.rstrip('/')}"


def cache_stats() -> dict[str, Any]:
    """Hits, misses, hit rate and requests per replica of the running deployment's shared cache."""
    index = ray.get_actor(INDEX_NAME, namespace=APP_NAME)
    return cast(dict[str, Any], ray.get(index.stats.remote()))  # CacheIndex.stats's value


def stop_perception() -> None:
    """Remove the deployment and its cache index."""
    serve.delete(APP_NAME)
    with suppress(ValueError):  # already gone
        ray.kill(ray.get_actor(INDEX_NAME, namespace=APP_NAME))
