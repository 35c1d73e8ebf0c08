"""ROS 2 bags (mcap) of rendered frames, written and read with rosbags (no ROS install needed).

Topics, all stamped with the frame's time (header.stamp and bag time agree):
    /camera/color/image_raw     sensor_msgs/Image rgb8
    /camera/color/camera_info   sensor_msgs/CameraInfo (plumb_bob, no distortion)
    /camera/depth/image_raw     sensor_msgs/Image 32FC1, metres along the optical axis, NaN = nothing
    /camera/labels/image_raw    sensor_msgs/Image 32SC1 instance ids, 0 = background
    /camera/labels/names        std_msgs/String, JSON {"id": "name"} of the ids in that frame
    /tf                         tf2_msgs/TFMessage map -> camera_color_optical_frame (camera-to-world)
Images are registered to the colour camera, so all three share its frame id and CameraInfo.
The pose travels as TF rather than odometry: it is the optical frame itself, no extrinsic needed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from spatialclaw_ros.frames import CameraIntrinsics, Frame, FrameSet
from spatialclaw_ros.frames.poses import rigid_transform, translation_quaternion

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
    array = np.ascontiguousarray(array)
    h, w = array.shape[:2]
    data = array.view(np.uint8).reshape(-1)
    return _T["sensor_msgs/msg/Image"](
        header=_header(seconds, OPTICAL_FRAME), height=h, width=w, encoding=encoding,
        is_bigendian=0, step=data.size // h, data=data,
    )


def _camera_info(k: CameraIntrinsics, seconds: float):
    projection = np.zeros((3, 4))
    projection[:, :3] = k.matrix()
    roi = _T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return _T["sensor_msgs/msg/CameraInfo"](
        header=_header(seconds, OPTICAL_FRAME), height=k.height, width=k.width, distortion_model="plumb_bob",
        d=np.zeros(5), k=k.matrix().reshape(-1), r=np.eye(3).reshape(-1), p=projection.reshape(-1),
        binning_x=0, binning_y=0, roi=roi,
    )


def _transform(pose: np.ndarray, seconds: float, world_frame: str):
    (tx, ty, tz), (x, y, z, w) = translation_quaternion(pose)
    transform = _T["geometry_msgs/msg/Transform"](
        translation=_T["geometry_msgs/msg/Vector3"](x=float(tx), y=float(ty), z=float(tz)),
        rotation=_T["geometry_msgs/msg/Quaternion"](x=float(x), y=float(y), z=float(z), w=float(w)),
    )
    stamped = _T["geometry_msgs/msg/TransformStamped"](
        header=_header(seconds, world_frame), child_frame_id=OPTICAL_FRAME, transform=transform
    )
    return _T["tf2_msgs/msg/TFMessage"](transforms=[stamped])


def _frame_messages(frame: Frame, seconds: float, world_frame: str) -> Iterable[tuple[str, object]]:
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


def write_bag(clips: list[FrameSet], path: str | Path, start: float = 0.0, gap_s: float = 2.0) -> list[BagClip]:
    """Write frame sets one after another (each shifted to begin `gap_s` after the previous one
    ended; the first at `start` seconds) into a new mcap bag directory. Returns the timeline."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; rosbags will not overwrite a bag")
    timeline: list[BagClip] = []
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {t: writer.add_connection(t, m, typestore=_STORE) for t, m in _TOPIC_TYPES.items()}
        clock = start
        for frames in clips:
            offset = clock - frames[0].timestamp
            for frame in frames:
                seconds = frame.timestamp + offset
                for topic, msg in _frame_messages(frame, seconds, frames.world_frame):
                    writer.write(connections[topic], _nanoseconds(seconds), _STORE.serialize_cdr(msg, msg.__msgtype__))
            end = frames[-1].timestamp + offset
            timeline.append(BagClip(frames.name, clock, end, len(frames)))
            clock = end + gap_s
    return timeline


def _array(msg) -> np.ndarray:
    dtype = {"rgb8": np.uint8, "32FC1": np.float32, "32SC1": np.int32}.get(msg.encoding)
    if dtype is None:
        raise ValueError(f"unsupported image encoding {msg.encoding!r} in the bag")
    data = np.asarray(msg.data, dtype=np.uint8).reshape(msg.height, msg.step)
    array = data[:, : msg.width * np.dtype(dtype).itemsize * (3 if msg.encoding == "rgb8" else 1)].copy().view(dtype)
    return array.reshape(msg.height, msg.width, 3) if msg.encoding == "rgb8" else array.reshape(msg.height, msg.width)


def _stamp(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def read_bag(path: str | Path, start: float | None = None, end: float | None = None, camera: str = "camera") -> FrameSet:
    """The frames in a bag written by `write_bag` (optionally only those stamped in [start, end]),
    with depth, labels, intrinsics and poses matched to each colour image by stamp."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"bag not found: {path}")
    by_stamp: dict[int, dict[str, object]] = defaultdict(dict)
    world_frame = ""
    with AnyReader([path], default_typestore=_STORE) as reader:
        wanted = [c for c in reader.connections if c.topic in _TOPIC_TYPES]
        if not any(c.topic == COLOR_TOPIC for c in wanted):
            raise ValueError(f"{path} has no {COLOR_TOPIC} topic")
        # Only the window is read: rosbags skips the chunks outside it (its stop is exclusive).
        first = None if start is None else _nanoseconds(start)
        stop = None if end is None else _nanoseconds(end) + 1
        for conn, t, raw in reader.messages(connections=wanted, start=first, stop=stop):
            msg = reader.deserialize(raw, conn.msgtype)
            if conn.topic == TF_TOPIC:
                for tf in msg.transforms:
                    if tf.child_frame_id == OPTICAL_FRAME:
                        world_frame = tf.header.frame_id
                        by_stamp[_stamp(tf)][TF_TOPIC] = tf.transform
            else:
                by_stamp[t if conn.topic == LABEL_NAMES_TOPIC else _stamp(msg)][conn.topic] = msg
    frames = []
    for ns in sorted(s for s, parts in by_stamp.items() if COLOR_TOPIC in parts):
        parts = by_stamp[ns]
        frames.append(_frame_from(parts, len(frames), ns / 1e9, camera))
    if not frames:
        raise ValueError(f"no colour frames in {path} between {start} and {end}")
    return FrameSet(frames, world_frame=world_frame, name=path.name)


def _frame_from(parts: dict[str, object], index: int, seconds: float, camera: str) -> Frame:
    info = parts.get(INFO_TOPIC)
    intrinsics = None
    if info is not None:
        intrinsics = CameraIntrinsics.from_matrix(np.asarray(info.k).reshape(3, 3), info.width, info.height)
    pose = None
    if TF_TOPIC in parts:
        tf = parts[TF_TOPIC]
        pose = rigid_transform([tf.translation.x, tf.translation.y, tf.translation.z],
                               [tf.rotation.x, tf.rotation.y, tf.rotation.z, tf.rotation.w])
    labels = _array(parts[LABELS_TOPIC]) if LABELS_TOPIC in parts else None
    names = None
    if labels is not None:
        names = {int(k): v for k, v in json.loads(parts[LABEL_NAMES_TOPIC].data).items()} if LABEL_NAMES_TOPIC in parts else {}
    return Frame(
        image=_array(parts[COLOR_TOPIC]), index=index, timestamp=seconds, camera=camera,
        depth=_array(parts[DEPTH_TOPIC]) if DEPTH_TOPIC in parts else None,
        intrinsics=intrinsics, pose=pose, labels=labels, label_names=names,
    )


def export_benchmark_bag(samples_path: str | Path, bag_path: str | Path, start: float = 1000.0) -> Path:
    """Write a written synthetic benchmark as one bag (clips one after another) plus
    `<bag>.questions.jsonl` beside it: the samples without media, each with
    `extra["replay"] = {"stamp", "window", "frames"}`: when to ask (just after its clip ends) and
    the clip's [start, end] on the bag's timeline. Returns the questions file."""
    from spatialclaw_ros.eval.framesets import load_frameset
    from spatialclaw_ros.eval.records import read_samples, write_jsonl

    samples = read_samples(samples_path)
    clip_paths = list(dict.fromkeys(s.media[0].paths[0] for s in samples))
    timeline = write_bag([load_frameset(p) for p in clip_paths], bag_path, start=start)
    where = dict(zip(clip_paths, timeline))
    rows = []
    for sample in samples:
        clip = where[sample.media[0].paths[0]]
        sample.media = []
        sample.extra["replay"] = {"stamp": round(clip.end + 0.5, 9), "window": [clip.start, clip.end], "frames": clip.frames}
        rows.append(sample)
    questions = Path(bag_path).parent / f"{Path(bag_path).name}.questions.jsonl"
    write_jsonl(questions, rows)
    return questions
