"""The perception node: loads the models once (GPU when present) and serves them two ways:
ROS services `~/segment` and `~/reconstruct` for other nodes, and the token-protected FastAPI
perception service that the agent node's kernels call (`perception.service_url`).

Both ways apply the same limits (PerceptionConfig.decode_limits: frames per call, pixels per image,
bytes per call, points, text) and the same field checks (finite poses, calibrated intrinsics,
thresholds in [0, 1]), and both answer "not ready" with the cause while the models load in the
background or wait for a retry after a failed load (perception/readiness.py), instead of loading
on a request's time.

A lifecycle node (docs/ros.md, "Lifecycle"): configure builds the perception and starts loading
the models, activate starts serving (the HTTP service opens; the ROS services answer), deactivate
and cleanup undo that. `lifecycle.autostart` (the default) does configure and activate at start.
"Ready" is logged once the node is active and its models are loaded.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Callable

import numpy as np
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import RegionOfInterest

from spatialclaw_ros.frames import CameraIntrinsics, Frame, FrameSet
from spatialclaw_ros.frames.types import names_present
from spatialclaw_ros.msg import ObjectMask as ObjectMaskMsg
from spatialclaw_ros.perception.build import build_perception
from spatialclaw_ros.perception.config import PerceptionConfig
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.limits import DecodeLimits, LimitExceeded
from spatialclaw_ros.perception.readiness import ModelLoader, load_models
from spatialclaw_ros.perception.types import Perception, SegmentRequest
from spatialclaw_ros.ros.conversions import matrix_to_pose, pose_to_matrix, stamp_to_seconds
from spatialclaw_ros.ros.diagnostics import ERROR, OK, WARN, DiagnosticsPublisher, status
from spatialclaw_ros.ros.images import (
    camera_info_from_intrinsics,
    depth_from_image,
    image_from_array,
    intrinsics_from_camera_info,
    labels_from_image,
    rgb_from_image,
)
from spatialclaw_ros.ros.settings import (
    PERCEPTION_MODEL_PARAMETERS,
    PERCEPTION_NODE_PARAMETERS,
    declare_parameters,
    load_perception,
)
from spatialclaw_ros.ros.spin import spin_node
from spatialclaw_ros.srv import Reconstruct, Segment

_SERVICE_START_TIMEOUT_S = 10.0


class PerceptionNode(LifecycleNode):
    def __init__(
        self,
        *,
        perception_factory=None,
        node_name: str = "spatialclaw_perception",
        autostart: bool | None = None,
        **node_kwargs,
    ):
        super().__init__(node_name, **node_kwargs)
        # not `_parameters`: rclpy's Node keeps its Parameter objects under that name
        self._parameter_values = p = declare_parameters(self, PERCEPTION_NODE_PARAMETERS)
        self._config = load_perception(self, PERCEPTION_MODEL_PARAMETERS, p["perception.config"])
        # perception.token, else $SPATIALCLAW_PERCEPTION_TOKEN (PerceptionConfig reads it), else a
        # random one
        self._token = self._config.token or secrets.token_urlsafe(24)
        self.limits = self._config.decode_limits()
        self._factory: Callable[[PerceptionConfig], Perception] = (
            perception_factory or build_perception
        )
        self._backends: dict[str, Perception] = {}  # reconstruct backend -> loaded perception
        self._lock = threading.Lock()
        self.default: Perception | None = None
        self.models: ModelLoader | None = None
        self._server = None
        self._lifecycle_state = "unconfigured"
        self._serving = False
        self._said_ready = False
        self.create_service(Segment, "~/segment", self._on_segment)
        self.create_service(Reconstruct, "~/reconstruct", self._on_reconstruct)
        self.diagnostics = DiagnosticsPublisher(self, self._diagnostics)
        if autostart if autostart is not None else p["lifecycle.autostart"]:
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise ValueError("could not configure the perception node (see the error above)")
            if self.trigger_activate() != TransitionCallbackReturn.SUCCESS:
                raise RuntimeError("could not activate the perception node (see the error above)")

    # ---- lifecycle ------------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            default = self._perception(self._config.reconstruct_backend)
        except Exception as error:  # noqa: BLE001 - a bad setting: stay unconfigured, say why
            self.get_logger().error(f"configure failed: {type(error).__name__}: {error}")
            return TransitionCallbackReturn.FAILURE
        # In the background, with retries: the services answer "not ready" meanwhile (module
        # docstring).
        self.default = default
        self.models = ModelLoader(lambda: load_models(default))
        self.models.start()
        self._lifecycle_state = "inactive"
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        p = self._parameter_values
        if p["service.enabled"]:
            if self.default is None or self.models is None:  # lifecycle: configured first
                self.get_logger().error("activate before configure")
                return TransitionCallbackReturn.FAILURE
            try:
                self._server = _start_service(
                    self.default,
                    self._token,
                    p["service.host"],
                    int(p["service.port"]),
                    self.limits,
                    self.models,
                )
            except RuntimeError as error:
                self.get_logger().error(str(error))
                return TransitionCallbackReturn.FAILURE
            self.get_logger().info(
                f"perception service on http://{p['service.host']}:{p['service.port']} "
                "(token from perception.token / $SPATIALCLAW_PERCEPTION_TOKEN)"
            )
        self._serving = True
        self._lifecycle_state = "active"
        self._say_ready_once()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_serving()
        self._lifecycle_state = "inactive"
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.models is not None:
            self.models.stop()
        with self._lock:
            self._backends.clear()
        self.default, self.models = None, None
        self._lifecycle_state = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_serving()
        self._lifecycle_state = "finalized"
        return TransitionCallbackReturn.SUCCESS

    def _stop_serving(self) -> None:
        self._serving = False
        self._said_ready = False
        if self._server is not None:
            self._server.should_exit = True
            self._server = None

    def _say_ready_once(self) -> None:
        """'ready' means active with the models loaded: logged once that holds."""
        if (
            not self._said_ready
            and self._serving
            and self.models is not None
            and self.models.status().ready
        ):
            self._said_ready = True
            self.get_logger().info(
                f"ready: {self.get_fully_qualified_name()}/segment, /reconstruct"
            )

    def _diagnostics(self) -> list:
        self._say_ready_once()
        models = self.models.status() if self.models is not None else None
        if models is None:
            return [
                status(
                    self,
                    "models",
                    WARN,
                    f"not loaded (lifecycle state '{self._lifecycle_state}')",
                    state="not loaded",
                    **{"lifecycle state": self._lifecycle_state},
                )
            ]
        level = OK if models.ready else (ERROR if models.state == "failed" else WARN)
        return [
            status(
                self,
                "models",
                level,
                models.reason or models.state,
                state=models.state,
                attempts=models.attempts,
                **{
                    "lifecycle state": self._lifecycle_state,
                    "reconstruct backend": self._config.reconstruct_backend,
                    "segment backend": self._config.segment_backend,
                },
            )
        ]

    def _perception(self, backend: str) -> Perception:
        """One loaded perception per reconstruct backend, built on first use and kept."""
        with self._lock:
            if backend not in self._backends:
                self._backends[backend] = self._factory(
                    self._config.updated(reconstruct_backend=backend)
                )
            return self._backends[backend]

    def destroy_node(self) -> None:
        # getattr: rclpy also calls this on a node whose constructor failed part-way.
        server = getattr(self, "_server", None)
        if server is not None:
            server.should_exit = True
        models = getattr(self, "models", None)
        if models is not None:
            models.stop()
        super().destroy_node()

    def _require_ready(self) -> Perception:
        """The default perception, once the node serves and its models are loaded."""
        if not self._serving or self.models is None or self.default is None:
            raise PerceptionError(
                f"the perception node is not active (lifecycle state '{self._lifecycle_state}')"
            )
        readiness = self.models.status()
        if not readiness.ready:
            raise PerceptionError(f"perception models not ready: {readiness.reason}")
        return self.default

    def _on_segment(
        self, request: Segment.Request, response: Segment.Response
    ) -> Segment.Response:
        try:
            default = self._require_ready()
            _check_sizes(self.limits, request.images, request.label_images)
            frames = _frames_for_segmentation(request)
            segmentation = default.segment(
                frames, _segment_request(request, len(frames), self.limits)
            )
        except Exception as error:  # noqa: BLE001 - a bad request or a failed model must not take the node down
            response.success, response.error_msg = False, f"{type(error).__name__}: {error}"
            return response
        response.success = True
        response.masks = [
            _mask_msg(m, request.images[m.frame_index].header) for m in segmentation.masks
        ]
        return response

    def _on_reconstruct(
        self, request: Reconstruct.Request, response: Reconstruct.Response
    ) -> Reconstruct.Response:
        try:
            self._require_ready()
            _check_sizes(self.limits, request.images, request.depths)
            frames = _frames_for_reconstruction(request)
            perception = self._perception(request.backend or self._config.reconstruct_backend)
            reconstruction = perception.reconstruct(frames)
        except Exception as error:  # noqa: BLE001 - as for segment: the node answers the failure
            response.success, response.error_msg = False, f"{type(error).__name__}: {error}"
            return response
        response.success = True
        response.is_metric = bool(reconstruction.is_metric)
        for i, index in enumerate(reconstruction.frame_indices):
            header = request.images[index].header
            response.depths.append(
                image_from_array(reconstruction.depth[i].astype(np.float32), "32FC1", header)
            )
            response.confidences.append(
                image_from_array(reconstruction.confidence[i].astype(np.float32), "32FC1", header)
            )
            height, width = reconstruction.depth[i].shape
            k = CameraIntrinsics.from_matrix(reconstruction.intrinsics[i], width, height)
            response.camera_infos.append(camera_info_from_intrinsics(k, header))
            response.camera_poses.append(matrix_to_pose(reconstruction.extrinsics[i]))
        return response


def _check_sizes(limits: DecodeLimits, images: list, *per_image: list) -> None:
    """Frame count, pixels per image and bytes per call, from the message sizes before any
    conversion: the same limits as the HTTP service's."""
    if len(images) > limits.max_frames:
        raise LimitExceeded(f"{len(images)} images; the limit is {limits.max_frames}")
    for i, msg in enumerate(images):
        if msg.height * msg.width > limits.max_image_pixels:
            raise LimitExceeded(
                f"image {i} has {msg.height * msg.width} pixels; the limit is "
                f"{limits.max_image_pixels}"
            )
    total = sum(len(msg.data) for group in (images, *per_image) for msg in group)
    if total > limits.max_decoded_bytes:
        raise LimitExceeded(
            f"the images hold {total} bytes; the limit is {limits.max_decoded_bytes}"
        )


def _segment_request(request: Segment.Request, count: int, limits: DecodeLimits) -> SegmentRequest:
    prompts = [bool(request.text), len(request.points) > 0, request.box.width > 0]
    if sum(prompts) != 1:
        raise ValueError("give exactly one prompt: text, points or box")
    if request.prompt_frame >= count:
        raise ValueError(f"prompt_frame {request.prompt_frame} is outside the {count} images")
    if len(request.text) > limits.max_text_chars:
        raise LimitExceeded(
            f"the text prompt has {len(request.text)} characters; the limit is "
            f"{limits.max_text_chars}"
        )
    if len(request.points) > limits.max_points:
        raise LimitExceeded(f"{len(request.points)} points; the limit is {limits.max_points}")
    if not (math.isfinite(request.threshold) and 0.0 <= request.threshold <= 1.0):
        raise ValueError(f"threshold must be between 0 and 1, got {request.threshold}")
    points = labels = box = None
    if request.points:
        if len(request.point_labels) not in (0, len(request.points)):
            raise ValueError(
                f"{len(request.point_labels)} point_labels for {len(request.points)} points"
            )
        points = np.array([[p.x, p.y] for p in request.points], dtype=np.float64)
        if not np.isfinite(points).all():
            raise ValueError("points have NaN or infinite coordinates")
        labels = np.array(list(request.point_labels) or [1] * len(points), dtype=np.int64)
    if request.box.width > 0:
        b = request.box
        box = np.array(
            [b.x_offset, b.y_offset, b.x_offset + b.width, b.y_offset + b.height], dtype=np.float64
        )
    return SegmentRequest(
        frame_indices=list(range(count)),
        text=request.text or None,
        points=points,
        point_labels=labels,
        box=box,
        prompt_frame=int(request.prompt_frame),
        threshold=request.threshold or None,
    )


def _mask_msg(mask, header) -> ObjectMaskMsg:
    pixels = np.asarray(mask.mask, dtype=bool)
    ys, xs = np.nonzero(pixels)
    roi = RegionOfInterest()
    if xs.size:
        roi.x_offset, roi.y_offset = int(xs.min()), int(ys.min())
        roi.width, roi.height = int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)
    return ObjectMaskMsg(
        label=mask.label,
        score=float(mask.score),
        frame_index=int(mask.frame_index),
        bbox=roi,
        mask=image_from_array(pixels.astype(np.uint8) * 255, "mono8", header),
    )


def _check_one_per_image(n: int, **per_image: list) -> None:
    for name, items in per_image.items():
        if len(items) not in (0, n):
            raise ValueError(f"{len(items)} {name} for {n} images: give one per image or none")


def _frames_for_segmentation(request: Segment.Request) -> FrameSet:
    n = len(request.images)
    if n == 0:
        raise ValueError("no images given")
    _check_one_per_image(n, label_images=request.label_images)
    if len(request.label_ids) != len(request.label_names):
        raise ValueError(
            f"{len(request.label_ids)} label_ids but {len(request.label_names)} label_names"
        )
    names = {
        int(i): str(name) for i, name in zip(request.label_ids, request.label_names, strict=True)
    }
    frames = []
    for i, msg in enumerate(request.images):
        labels = labels_from_image(request.label_images[i]) if request.label_images else None
        frames.append(
            Frame(
                rgb_from_image(msg),
                index=i,
                labels=labels,
                label_names=names_present(labels, names),
            )
        )
    return FrameSet(frames)


def _frames_for_reconstruction(request: Reconstruct.Request) -> FrameSet:
    n = len(request.images)
    if n == 0:
        raise ValueError("no images given")
    _check_one_per_image(
        n,
        depths=request.depths,
        camera_infos=request.camera_infos,
        camera_poses=request.camera_poses,
    )
    frames = []
    for i, msg in enumerate(request.images):
        frames.append(
            Frame(
                image=rgb_from_image(msg),
                index=i,
                timestamp=stamp_to_seconds(msg.header.stamp),
                depth=depth_from_image(request.depths[i]) if request.depths else None,
                intrinsics=_calibrated(request.camera_infos[i], i)
                if request.camera_infos
                else None,
                pose=_finite_pose(request.camera_poses[i], i) if request.camera_poses else None,
            )
        )
    return FrameSet(frames, world_frame="world" if request.camera_poses else "")


def _calibrated(info, i: int) -> CameraIntrinsics:
    """Intrinsics a caller gave explicitly: finite, positive focal lengths, a size."""
    k = np.asarray(info.k, dtype=np.float64)
    if not np.isfinite(k).all():
        raise ValueError(f"camera_infos[{i}]: K has NaN or infinite entries")
    intrinsics = intrinsics_from_camera_info(info)
    if intrinsics is None:
        raise ValueError(
            f"camera_infos[{i}]: K needs positive focal lengths and the image size, "
            f"got fx={k[0]:g} fy={k[4]:g} for {info.width}x{info.height}"
        )
    return intrinsics


def _finite_pose(pose, i: int) -> np.ndarray:
    matrix = pose_to_matrix(pose)
    if not np.isfinite(matrix).all():
        raise ValueError(f"camera_poses[{i}] has NaN or infinite entries")
    return matrix


def _start_service(
    perception, token: str, host: str, port: int, limits: DecodeLimits, models: ModelLoader
):
    """The FastAPI perception service on a background thread; returns the uvicorn server."""
    import uvicorn

    from spatialclaw_ros.perception.service import create_app

    app = create_app(perception, token, limits, loader=models)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="perception-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + _SERVICE_START_TIMEOUT_S
    while not server.started:  # kernels may call as soon as the node reports ready
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(
                f"the perception service did not start on {host}:{port} (port in use?)"
            )
        time.sleep(0.02)
    return server


def main(args: list[str] | None = None) -> int:
    """Run the node until Ctrl-C (`ros2 run spatialclaw_ros perception_node`)."""
    return spin_node(PerceptionNode, args, threads=2)
