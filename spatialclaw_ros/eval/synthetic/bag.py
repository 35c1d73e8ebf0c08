"""ROS 2 bags (mcap) of rendered frames, written with rosbags (no ROS install needed); any bag,
these included, is read by `spatialclaw_ros.frames.bags`.

Topics, all stamped with the frame's time (header.stamp and bag time agree):
    /camera/color/image_raw     sensor_msgs/Image rgb8
    /camera/color/camera_info   sensor_msgs/CameraInfo (plumb_bob, no distortion)
    /camera/depth/image_raw     sensor_msgs/Image 32FC1, metres along the optical axis,
                                NaN = nothing
    /camera/labels/image_raw    sensor_msgs/Image 32SC1 instance ids, 0 = background
    /camera/labels/names        std_msgs/String, JSON {"id": "name"} of the ids in that frame
    /tf                         tf2_msgs/TFMessage map -> camera_color_optical_frame
                                (camera-to-world)
Images are registered to the colour camera, so all three share its frame id and CameraInfo.
The pose travels as TF rather than odometry: it is the optical frame itself, no extrinsic needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from spatialclaw_ros.frames import CameraIntrinsics, Frame, FrameSet
from spatialclaw_ros.frames.codec import encode_image
from spatialclaw_ros.frames.poses import translation_quaternion

COLOR_TOPIC = "/camera/color/image_raw"
INFO_TOPIC = "/camera/color/camera_info"
DEPTH_TOPIC = "/camera/depth/image_raw"
LABELS_TOPIC = "/camera/labels/image_raw"
LABEL_NAMES_TOPIC = "/camera/labels/names"
TF_TOPIC = "/tf"
OPTICAL_FRAME = "camera_color_optical_frame"

_STORE = get_typestore(Stores.ROS2_KILTED)
_T = _STORE.types
_TOPIC_TYPES = {
    COLOR_TOPIC: "sensor_msgs/msg/Image",
    INFO_TOPIC: "sensor_msgs/msg/CameraInfo",
    DEPTH_TOPIC: "sensor_msgs/msg/Image",
    LABELS_TOPIC: "sensor_msgs/msg/Image",
    LABEL_NAMES_TOPIC: "std_msgs/msg/String",
    TF_TOPIC: "tf2_msgs/msg/TFMessage",
}


@dataclass(frozen=True)
class BagClip:
    """Where one frame set sits on the bag's timeline."""

    name: str
    start: float
    end: float
    frames: int


def _nanoseconds(seconds: float) -> int:
    return int(round(seconds * 1e9))


def _header(seconds: float, frame_id: str):
    ns = _nanoseconds(seconds)
    stamp = _T["builtin_interfaces/msg/Time"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)
    return _T["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def _image(array: np.ndarray, encoding: str, seconds: float):
    raw = encode_image(array, encoding)
    return _T["sensor_msgs/msg/Image"](
        header=_header(seconds, OPTICAL_FRAME),
        height=raw.height,
        width=raw.width,
        encoding=raw.encoding,
        is_bigendian=raw.is_bigendian,
        step=raw.step,
        data=np.frombuffer(raw.data, np.uint8),
    )


def _camera_info(k: CameraIntrinsics, seconds: float):
    projection = np.zeros((3, 4))
    projection[:, :3] = k.matrix()
    roi = _T["sensor_msgs/msg/RegionOfInterest"](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
    )
    return _T["sensor_msgs/msg/CameraInfo"](
        header=_header(seconds, OPTICAL_FRAME),
        height=k.height,
        width=k.width,
        distortion_model="plumb_bob",
        d=np.zeros(5),
        k=k.matrix().reshape(-1),
        r=np.eye(3).reshape(-1),
        p=projection.reshape(-1),
        binning_x=0,
        binning_y=0,
        roi=roi,
    )


def _transform(pose: np.ndarray, seconds: float, world_frame: str):
    (tx, ty, tz), (x, y, z, w) = translation_quaternion(pose)
    transform = _T["geometry_msgs/msg/Transform"](
        translation=_T["geometry_msgs/msg/Vector3"](x=float(tx), y=float(ty), z=float(tz)),
        rotation=_T["geometry_msgs/msg/Quaternion"](
            x=float(x), y=float(y), z=float(z), w=float(w)
        ),
    )
    stamped = _T["geometry_msgs/msg/TransformStamped"](
        header=_header(seconds, world_frame), child_frame_id=OPTICAL_FRAME, transform=transform
    )
    return _T["tf2_msgs/msg/TFMessage"](transforms=[stamped])


def _frame_messages(
    frame: Frame, seconds: float, world_frame: str
) -> Iterable[tuple[str, object]]:
    yield COLOR_TOPIC, _image(frame.image, "rgb8", seconds)
    if frame.intrinsics is not None:
        yield INFO_TOPIC, _camera_info(frame.intrinsics, seconds)
    if frame.depth is not None:
        yield DEPTH_TOPIC, _image(frame.depth.astype(np.float32), "32FC1", seconds)
    if frame.labels is not None:
        yield LABELS_TOPIC, _image(frame.labels.astype(np.int32), "32SC1", seconds)
        names = {str(k): v for k, v in sorted((frame.label_names or {}).items())}
        yield LABEL_NAMES_TOPIC, _T["std_msgs/msg/String"](data=json.dumps(names))
    if frame.pose is not None:
        yield TF_TOPIC, _transform(frame.pose, seconds, world_frame or "map")


def write_bag(
    clips: list[FrameSet], path: str | Path, start: float = 0.0, gap_s: float = 2.0
) -> list[BagClip]:
    """Write frame sets one after another (each shifted to begin `gap_s` after the previous one
    ended; the first at `start` seconds) into a new mcap bag directory. Returns the timeline."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; rosbags will not overwrite a bag")
    timeline: list[BagClip] = []
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {
            t: writer.add_connection(t, m, typestore=_STORE) for t, m in _TOPIC_TYPES.items()
        }
        clock = start
        for frames in clips:
            offset = clock - frames[0].timestamp
            for frame in frames:
                seconds = frame.timestamp + offset
                for topic, msg in _frame_messages(frame, seconds, frames.world_frame):
                    writer.write(
                        connections[topic],
                        _nanoseconds(seconds),
                        _STORE.serialize_cdr(msg, _TOPIC_TYPES[topic]),
                    )
            end = frames[-1].timestamp + offset
            timeline.append(BagClip(frames.name, clock, end, len(frames)))
            clock = end + gap_s
    return timeline


def export_benchmark_bag(
    samples_path: str | Path, bag_path: str | Path, start: float = 1000.0
) -> Path:
    """Write a written synthetic benchmark as one bag (clips one after another) plus
    `<bag>.questions.jsonl` beside it: the samples without media, each with
    `extra["replay"] = {"stamp", "window", "frames"}`: when to ask (just after its clip ends) and
    the clip's [start, end] on the bag's timeline. Returns the questions file."""
    from spatialclaw_ros.eval.framesets import load_frameset
    from spatialclaw_ros.eval.records import read_samples, write_jsonl

    samples = read_samples(samples_path)
    clip_paths = list(dict.fromkeys(s.media[0].paths[0] for s in samples))
    timeline = write_bag([load_frameset(p) for p in clip_paths], bag_path, start=start)
    where = dict(zip(clip_paths, timeline, strict=True))
    rows = []
    for sample in samples:
        clip = where[sample.media[0].paths[0]]
        sample.media = []
        sample.extra["replay"] = {
            "stamp": round(clip.end + 0.5, 9),
            "window": [clip.start, clip.end],
            "frames": clip.frames,
        }
        rows.append(sample)
    questions = Path(bag_path).parent / f"{Path(bag_path).name}.questions.jsonl"
    write_jsonl(questions, rows)
    return questions
