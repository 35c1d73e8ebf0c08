"""What an answer publishes: object estimates, TF frames and RViz markers, as plain messages.

Everything here is message building from the agent's Box3D / ObjectDistance values, so it is
tested without DDS; the node only sends the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from geometry_msgs.msg import Point, TransformStamped
from matplotlib import colormaps
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from spatialclaw_ros.msg import ObjectEstimate
from spatialclaw_ros.perception.types import Box3D, ObjectDistance
from spatialclaw_ros.ros.conversions import (
    frame_name,
    matrix_to_pose,
    matrix_to_transform,
    seconds_to_stamp,
)

UP_REP103 = (0.0, 0.0, 1.0)  # map / odom / base_link: z up
UP_OPTICAL = (0.0, -1.0, 0.0)  # *_optical camera frames: y down
# tab10's ten colours, as RGB
_PALETTE = [(float(r), float(g), float(b)) for r, g, b in colormaps["tab10"](np.arange(10))[:, :3]]


@dataclass(frozen=True)
class OutputFrame:
    """Where an answer's geometry is published: the ROS frame, the source image time, and the
    transform taking the reconstruction's world coordinates into that frame."""

    frame_id: str
    stamp: float
    world_to_frame: np.ndarray = field(default_factory=lambda: np.eye(4))
    up: tuple[float, float, float] = UP_REP103


@dataclass
class AnswerOutputs:
    objects: list[ObjectEstimate]
    transforms: list[TransformStamped]
    markers: MarkerArray
    tf_frames: list[str]


def build_outputs(
    boxes: list[Box3D],
    distances: list[ObjectDistance],
    frame: OutputFrame,
    answer_id: str,
    marker_lifetime_s: float = 0.0,
) -> AnswerOutputs:
    header = Header(frame_id=frame.frame_id, stamp=seconds_to_stamp(frame.stamp))
    poses = [_box_pose(box, frame.world_to_frame) for box in boxes]
    tf_frames = _unique_child_frames(answer_id, [box.label for box in boxes])
    objects = [_object_estimate(box, pose, header) for box, pose in zip(boxes, poses, strict=True)]
    transforms = [
        _transform(pose, header, child) for pose, child in zip(poses, tf_frames, strict=True)
    ]
    markers = _markers(boxes, poses, distances, frame, header, marker_lifetime_s)
    return AnswerOutputs(
        objects=objects, transforms=transforms, markers=markers, tf_frames=tf_frames
    )


def _box_pose(box: Box3D, world_to_frame: np.ndarray) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = np.asarray(box.rotation, dtype=np.float64)
    pose[:3, 3] = np.asarray(box.center, dtype=np.float64)
    return world_to_frame @ pose


def _unique_child_frames(answer_id: str, labels: list[str]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for label in labels:
        base = frame_name(label)
        seen[base] = seen.get(base, 0) + 1
        names.append(
            f"spatialclaw/{answer_id}/{base}" + (f"_{seen[base]}" if seen[base] > 1 else "")
        )
    return names


def _object_estimate(box: Box3D, pose: np.ndarray, header: Header) -> ObjectEstimate:
    estimate = ObjectEstimate(header=header, label=box.label, pose=matrix_to_pose(pose))
    estimate.size.x, estimate.size.y, estimate.size.z = (float(v) for v in box.size)
    estimate.confidence = float(np.clip(box.confidence, 0.0, 1.0))
    estimate.frame_indices = [int(i) for i in box.frame_indices]
    return estimate


def _transform(pose: np.ndarray, header: Header, child: str) -> TransformStamped:
    return TransformStamped(
        header=header, child_frame_id=child, transform=matrix_to_transform(pose)
    )


def _colour(i: int, alpha: float) -> ColorRGBA:
    r, g, b = _PALETTE[i % len(_PALETTE)]
    return ColorRGBA(r=float(r), g=float(g), b=float(b), a=alpha)


def _point(xyz) -> Point:
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))


def _marker(
    header: Header, namespace: str, marker_id: int, kind: int, lifetime_s: float
) -> Marker:
    marker = Marker(header=header, ns=namespace, id=marker_id, type=kind, action=Marker.ADD)
    marker.lifetime.sec = int(lifetime_s)
    marker.lifetime.nanosec = int((lifetime_s % 1) * 1e9)
    marker.pose.orientation.w = 1.0
    return marker


def _text(
    header: Header, namespace: str, marker_id: int, text: str, at: np.ndarray, lifetime_s: float
) -> Marker:
    marker = _marker(header, namespace, marker_id, Marker.TEXT_VIEW_FACING, lifetime_s)
    marker.text = text
    marker.pose.position = _point(at)
    marker.scale.z = 0.12
    marker.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
    return marker


def _markers(
    boxes: list[Box3D],
    poses: list[np.ndarray],
    distances: list[ObjectDistance],
    frame: OutputFrame,
    header: Header,
    lifetime_s: float,
) -> MarkerArray:
    # DELETEALL first: RViz would otherwise keep the previous answer's objects beside the new ones.
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    up = np.asarray(frame.up)
    for i, (box, pose) in enumerate(zip(boxes, poses, strict=True)):
        cube = _marker(header, "objects", i, Marker.CUBE, lifetime_s)
        cube.pose = matrix_to_pose(pose)
        cube.scale.x, cube.scale.y, cube.scale.z = (max(float(v), 0.01) for v in box.size)
        cube.color = _colour(i, 0.45)
        markers.append(cube)
        above = pose[:3, 3] + up * (0.5 * float(np.max(box.size)) + 0.1)
        markers.append(_text(header, "labels", i, box.label, above, lifetime_s))
    to_frame = frame.world_to_frame
    for j, distance in enumerate(distances):
        a = (to_frame @ np.append(distance.point_a, 1.0))[:3]
        b = (to_frame @ np.append(distance.point_b, 1.0))[:3]
        arrow = _marker(header, "distances", j, Marker.ARROW, lifetime_s)
        arrow.points = [_point(a), _point(b)]
        # shaft diameter, head diameter, head length
        arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.02, 0.05, 0.08
        arrow.color = ColorRGBA(r=1.0, g=0.85, b=0.1, a=1.0)
        markers.append(arrow)
        label = f"{distance.label_a} - {distance.label_b}: {distance.closest:.2f} m"
        markers.append(
            _text(header, "distance_labels", j, label, (a + b) / 2 + up * 0.1, lifetime_s)
        )
    return MarkerArray(markers=markers)
