"""Any bag in, frame sets out: ROS 2 bags (mcap, sqlite3) and ROS 1 bags through rosbags'
AnyReader.

Cameras come from the same `camera.<name>.*` settings the node reads (a parameter file), or are
detected when that is unambiguous:
- image streams are the bag's Image topics and CompressedImage topics named as image_transport
  names them (`<base>/compressed` for colour, `<base>/compressedDepth` for depth);
- a stream is depth when its topic says so (`depth`, `aligned_depth_to_color`,
  `depth_registered`, ...), labels when it says `label`, `instance` or `segmentation` and has an
  integer encoding, colour otherwise; confidence and disparity maps are left out;
- streams belong to one camera when their images share the header's frame_id (a depth image
  registered to the colour camera carries the colour optical frame; unregistered depth does not
  and is reported, not used); where several colour streams share a frame, a raw transport wins
  over a compressed one, `image_rect*` over `image_raw`, and `color`/`rgb` over other names;
- CameraInfo is the `camera_info` beside the colour stream, else one with the same frame_id;
  label names are a std_msgs/String of JSON {"id": "name"} (or {"id": {"class": name}}) beside
  the label stream.

Poses come from the bag's /tf and /tf_static through `frames.transforms.TfTree`: the camera
frame is each image's header.frame_id, looked up in the world frame (given, else map, else odom,
else the root of the camera's tree) at the image stamp. A camera frame outside the tree, a broken
chain or a stamp outside the recorded transforms is an error that names the link.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.interfaces import Connection
from rosbags.typesys import Stores, get_typestore

from spatialclaw_ros.frames.cameras import CameraTopics, cameras_from_file, parse_label_names_json
from spatialclaw_ros.frames.codec import (
    DEPTH_ENCODINGS,
    LABEL_ENCODINGS,
    CameraCalibration,
    ImageError,
    Undistorter,
    depth_from_compressed,
    depth_from_image,
    labels_from_image,
    rgb_from_compressed,
    rgb_from_image,
)
from spatialclaw_ros.frames.poses import rigid_transform
from spatialclaw_ros.frames.sampling import evenly_spaced
from spatialclaw_ros.frames.transforms import LinkSummary, TfTree, TransformLookupError
from spatialclaw_ros.frames.types import CameraIntrinsics, Frame, FrameSet, names_present

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
STRING = "std_msgs/msg/String"
TF_TYPES = ("tf2_msgs/msg/TFMessage", "tf/msg/tfMessage")
# the node's buffer.sync_tolerance_s default: colour and depth stamps pair within it
SYNC_TOLERANCE_S = 0.02
_TF_MARGIN_S = 1.0
# Window ends compare with this slack: a float64 holds today's epoch seconds to ~0.2 us, so a stamp
# and the same time typed by a user can differ in the last bits.
_STAMP_SLACK_S = 1e-6  # /tf read this far around a window, so that its ends can be interpolated
_DEFAULT_STORE = get_typestore(Stores.ROS2_KILTED)

_DEPTH_WORDS = {
    "depth",
    "aligned_depth_to_color",
    "depth_registered",
    "depth_to_rgb",
    "depth_to_color",
}
_LABEL_WORDS = {
    "label",
    "labels",
    "instance",
    "instances",
    "segmentation",
    "instance_segmentation",
    "panoptic",
}
_SKIP_WORDS = {"confidence", "confidence_map", "disparity", "normals"}


class BagError(ValueError):
    """A bag that cannot give what was asked for; the message names the topic, frame or link."""


@dataclass(frozen=True)
class Stream:
    """One image topic as found in the bag."""

    topic: str
    msgtype: str
    count: int
    encoding: str  # Image encoding, or CompressedImage format
    frame_id: str
    kind: str  # colour | depth | labels | other

    @property
    def compressed(self) -> bool:
        return self.msgtype == COMPRESSED


@dataclass
class BagCamera:
    topics: CameraTopics
    frame_id: str
    colour: Stream
    depth: Stream | None = None
    labels: Stream | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class BagSummary:
    path: Path
    start: float
    end: float
    cameras: list[BagCamera]
    tf_links: list[LinkSummary]
    tf_roots: list[str]
    world_frames: dict[str, str]  # camera name -> the world its poses would be in ("" = no poses)
    topics: list[tuple[str, str, int]]  # every topic: name, type, count
    notes: list[str] = field(default_factory=list)


def bag_time(value: float, bag_start: float, base: str = "auto") -> float:
    """A time given by a user as bag time: `base` "bag" takes it as the bag's own time (header
    stamps), "start" as seconds from the bag's first message, "auto" as bag time when it is at or
    after the bag's start and as seconds from the start otherwise."""
    if base not in ("auto", "bag", "start"):
        raise ValueError(f"time base must be auto, bag or start, got {base!r}")
    relative = base == "start" or (base == "auto" and value < bag_start)
    return bag_start + value if relative else value


def bag_range(path: str | Path) -> tuple[float, float]:
    """First and last message times of a bag, in seconds."""
    with open_bag(path) as reader:
        # rosbags' end is exclusive by 1 ns
        return reader.start_time / 1e9, (reader.end_time - 1) / 1e9


def open_bag(path: str | Path) -> AnyReader:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"bag not found: {path}")
    return AnyReader([path], default_typestore=_DEFAULT_STORE)


def _words(topic: str) -> set[str]:
    parts = [p for p in topic.split("/") if p]
    return set(parts) | {w for p in parts for w in p.split("_")}


def _stamp(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def _first(reader: AnyReader, connection):
    for conn, _, raw in reader.messages(connections=[connection]):
        return reader.deserialize(raw, conn.msgtype)
    return None


def _classify(topic: str, msgtype: str, encoding: str) -> str:
    words = _words(topic)
    if words & _SKIP_WORDS:
        return "other"
    if msgtype == COMPRESSED:
        return (
            "depth"
            if topic.endswith("/compressedDepth")
            else ("depth" if words & _DEPTH_WORDS else "colour")
        )
    if words & _LABEL_WORDS and encoding in LABEL_ENCODINGS:
        return "labels"
    if words & _DEPTH_WORDS and encoding in DEPTH_ENCODINGS:
        return "depth"
    if encoding in ("16UC1", "32FC1", "64FC1"):
        return "depth"  # depth encodings under a name that does not say so
    return "colour"


def _base(topic: str) -> str:
    return re.sub(r"/(compressed|compressedDepth)$", "", topic)


def _directory(topic: str) -> str:
    return _base(topic).rsplit("/", 1)[0]


def _grey(stream: Stream) -> bool:
    return stream.encoding in ("mono8", "8UC1", "mono16")


def _colour_rank(stream: Stream) -> tuple:
    words = _words(stream.topic)
    return (
        _grey(stream),
        stream.compressed,
        not any(w.startswith("image_rect") or w == "rect" for w in words),
        not words & {"color", "colour", "rgb"},
        stream.topic,
    )


def _depth_rank(stream: Stream) -> tuple:
    words = _words(stream.topic)
    return (
        stream.compressed,
        not words & {"aligned_depth_to_color", "depth_registered", "aligned", "registered"},
        stream.topic,
    )


def _streams(reader: AnyReader) -> list[Stream]:
    streams = []
    for connection in reader.connections:
        if connection.msgtype not in (IMAGE, COMPRESSED):
            continue
        msg = _first(reader, connection)
        if msg is None:
            continue
        encoding = msg.encoding if connection.msgtype == IMAGE else msg.format
        kind = _classify(connection.topic, connection.msgtype, encoding)
        streams.append(
            Stream(
                connection.topic,
                connection.msgtype,
                connection.msgcount,
                encoding,
                msg.header.frame_id.lstrip("/"),
                kind,
            )
        )
    return streams


def _camera_name(colour: Stream, taken: set[str]) -> str:
    parts = [p for p in colour.topic.split("/") if p]
    for n in range(1, len(parts)):
        name = "_".join(parts[:n])
        if name not in taken:
            return name
    return colour.topic.strip("/").replace("/", "_")


def detect_cameras(reader: AnyReader) -> tuple[list[BagCamera], list[str]]:
    """The cameras of a bag by image_transport naming and frame ids; and notes on what was left
    out."""
    streams = _streams(reader)
    infos = {}
    for connection in reader.connections:
        if connection.msgtype == CAMERA_INFO:
            msg = _first(reader, connection)
            infos[connection.topic] = msg.header.frame_id.lstrip("/") if msg is not None else ""
    strings = [c.topic for c in reader.connections if c.msgtype == STRING]
    notes: list[str] = []
    by_frame: dict[str, list[Stream]] = defaultdict(list)
    for stream in streams:
        by_frame[stream.frame_id or _directory(stream.topic)].append(stream)
    cameras: list[BagCamera] = []
    taken: set[str] = set()
    best = {
        frame: min((s for s in group if s.kind == "colour"), key=_colour_rank)
        for frame, group in sorted(by_frame.items())
        if any(s.kind == "colour" for s in group)
    }
    # Grey-only groups (infrared, fisheye trackers) are cameras only when the bag has no colour
    # one.
    has_colour = any(not _grey(s) for s in best.values())
    for frame, colour in best.items():
        group = by_frame[frame]
        if has_colour and _grey(colour):
            notes.append(
                f"left out {colour.topic}: {colour.encoding} (grey) while the bag has "
                "colour cameras"
            )
            continue
        depths = sorted((s for s in group if s.kind == "depth"), key=_depth_rank)
        labels = [s for s in group if s.kind == "labels"]
        name = _camera_name(colour, taken)
        taken.add(name)
        camera_notes = [
            f"also a colour stream: {s.topic} (not used)"
            for s in group
            if s.kind == "colour" and _base(s.topic) != _base(colour.topic)
        ]
        camera_notes += [
            f"also a depth stream: {s.topic} (not used)"
            for s in depths[1:]
            if _base(s.topic) != _base(depths[0].topic)
        ]
        info = _sibling(infos, _directory(colour.topic), frame)
        label_stream = labels[0] if labels else None
        names_topic = ""
        if label_stream is not None:
            label_dir = _directory(label_stream.topic)
            near = [
                t
                for t in strings
                if t.startswith((label_dir + "/", label_dir.rsplit("/", 1)[0] + "/"))
            ]
            names_topic = next(
                (t for t in near if _words(t) & {"names", "name", "semantic_labels", "classes"}),
                "",
            )
        topics = CameraTopics(
            name=name,
            image_topic=colour.topic,
            compressed=colour.compressed,
            depth_topic=depths[0].topic if depths else "",
            depth_compressed=bool(depths) and depths[0].compressed,
            info_topic=info,
            labels_topic=label_stream.topic if label_stream else "",
            label_names_topic=names_topic,
        )
        cameras.append(
            BagCamera(
                topics,
                frame if colour.frame_id else "",
                colour,
                depths[0] if depths else None,
                label_stream,
                camera_notes,
            )
        )
    paired = {c.depth.topic for c in cameras if c.depth} | {
        c.labels.topic for c in cameras if c.labels
    }
    for stream in streams:
        if (
            stream.kind in ("depth", "labels")
            and stream.topic not in paired
            and all(_base(stream.topic) != _base(c.depth.topic) for c in cameras if c.depth)
        ):
            notes.append(
                f"{stream.kind} {stream.topic} (frame {stream.frame_id or '?'}) is not "
                "registered to any "
                "colour camera's frame; not used"
            )
    return cameras, notes


def _sibling(infos: dict[str, str], directory: str, frame: str) -> str:
    beside = f"{directory}/camera_info"
    if beside in infos:
        return beside
    return next(
        (topic for topic, info_frame in sorted(infos.items()) if frame and info_frame == frame), ""
    )


def _configured(reader: AnyReader, config: str | Path) -> list[BagCamera]:
    """Cameras exactly as a parameter file sets them; every topic it names must be in the bag."""
    by_topic = {s.topic: s for s in _streams(reader)}
    cameras = []
    for topics in cameras_from_file(config):
        missing = [
            t
            for t in (topics.image_topic, topics.depth_topic, topics.labels_topic)
            if t and t not in by_topic
        ]
        if missing:
            raise BagError(
                f"camera {topics.name!r} in {config}: topic(s) {', '.join(missing)} are "
                "not image topics of "
                f"the bag; its image topics: {', '.join(sorted(by_topic)) or 'none'}"
            )
        colour = by_topic[topics.image_topic]
        cameras.append(
            BagCamera(
                topics,
                colour.frame_id,
                colour,
                by_topic.get(topics.depth_topic),
                by_topic.get(topics.labels_topic),
            )
        )
    return cameras


def _transform_matrix(transform) -> np.ndarray:
    t, q = transform.translation, transform.rotation
    return rigid_transform((t.x, t.y, t.z), (q.x, q.y, q.z, q.w))


def read_tf(reader: AnyReader, start: float | None = None, end: float | None = None) -> TfTree:
    """Every /tf_static transform, and the /tf ones within [start, end] widened by a margin."""
    tree = TfTree(cache_s=None)
    statics = [
        c for c in reader.connections if c.msgtype in TF_TYPES and c.topic.endswith("tf_static")
    ]
    dynamics = [c for c in reader.connections if c.msgtype in TF_TYPES and c not in statics]
    for connections, window in ((statics, (None, None)), (dynamics, (start, end))):
        if not connections:
            continue
        first = None if window[0] is None else int((window[0] - _TF_MARGIN_S) * 1e9)
        stop = None if window[1] is None else int((window[1] + _TF_MARGIN_S) * 1e9)
        for conn, _, raw in reader.messages(connections=connections, start=first, stop=stop):
            static = conn in statics
            message = cast(_TfMessage, reader.deserialize(raw, conn.msgtype))
            for tf in message.transforms:
                tree.set_transform(
                    tf.header.frame_id,
                    tf.child_frame_id,
                    _stamp(tf),
                    _transform_matrix(tf.transform),
                    static=static,
                )
    return tree


def inspect_bag(
    path: str | Path, config: str | Path | None = None, world_frame: str = ""
) -> BagSummary:
    """What `spatialclaw bag info` prints: cameras, pairing, TF, time range, configuration."""
    with open_bag(path) as reader:
        cameras, notes = (_configured(reader, config), []) if config else detect_cameras(reader)
        tree = read_tf(reader)
        worlds = {}
        for camera in cameras:
            if not camera.frame_id or not tree.has_frame(camera.frame_id):
                worlds[camera.topics.name] = ""
                notes.append(
                    f"camera {camera.topics.name}: frame {camera.frame_id or '(none)'} "
                    "is not in the bag's TF "
                    "tree; no poses (the reconstruction estimates them)"
                )
            else:
                worlds[camera.topics.name] = tree.world_frame(camera.frame_id, world_frame)
        topics = sorted((c.topic, c.msgtype, c.msgcount) for c in reader.connections)
        return BagSummary(
            Path(path),
            reader.start_time / 1e9,
            (reader.end_time - 1) / 1e9,
            cameras,
            tree.links(),
            tree.roots(),
            worlds,
            topics,
            notes,
        )


def _cameras(reader: AnyReader, config: str | Path | None) -> list[BagCamera]:
    if config:
        return _configured(reader, config)
    cameras, _ = detect_cameras(reader)
    if not cameras:
        images = [c.topic for c in reader.connections if c.msgtype in (IMAGE, COMPRESSED)]
        raise BagError(
            f"no colour camera found in {reader.paths[0]}; image topics: "
            f"{', '.join(images) or 'none'} "
            "(name the topics in a parameter file, see config/spatialclaw.yaml)"
        )
    return cameras


def read_frames(
    path: str | Path,
    cameras: list[str] | None = None,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
    world_frame: str = "",
    config: str | Path | None = None,
    sync_tolerance_s: float = SYNC_TOLERANCE_S,
) -> list[FrameSet]:
    """One FrameSet per camera (all detected or configured ones when `cameras` is None): its colour
    images stamped in [start, end] (header time; both ends included), at most `max_frames` spread
    evenly, each with the depth and labels stamped within `sync_tolerance_s`, intrinsics and a
    pose."""
    with open_bag(path) as reader:
        found = _cameras(reader, config)
        by_name = {c.topics.name: c for c in found}
        wanted = cameras or list(by_name)
        unknown = [name for name in wanted if name not in by_name]
        if unknown:
            raise BagError(
                f"camera(s) {', '.join(unknown)} not in {path}; its cameras: "
                f"{', '.join(by_name) or 'none'}"
            )
        has_tf = any(c.msgtype in TF_TYPES for c in reader.connections)
        tree = read_tf(reader, start, end) if has_tf else None
        return [
            _read_camera(
                reader, by_name[name], start, end, max_frames, world_frame, tree, sync_tolerance_s
            )
            for name in wanted
        ]


@dataclass(frozen=True)
class _Stamped:
    stamp: float
    connection: Connection
    raw: bytes


class _TfMessage(Protocol):
    """tf2_msgs/TFMessage as rosbags deserializes it (its message classes are made at run time)."""

    transforms: list[Any]


def _collect(reader: AnyReader, topics: list[str], start, end) -> dict[str, list[_Stamped]]:
    """Images of `topics` whose header stamp is in [start, end], by topic, in stamp order. The bag
    is read by log time with a margin, since recorders log a message a little after its stamp."""
    wanted = [c for c in reader.connections if c.topic in topics]
    first = None if start is None else int((start - _TF_MARGIN_S) * 1e9)
    stop = None if end is None else int((end + _TF_MARGIN_S) * 1e9)
    found: dict[str, list[_Stamped]] = defaultdict(list)
    for conn, _, raw in reader.messages(connections=wanted, start=first, stop=stop):
        stamp = _stamp(reader.deserialize(raw, conn.msgtype))
        if (start is None or stamp >= start - _STAMP_SLACK_S) and (
            end is None or stamp <= end + _STAMP_SLACK_S
        ):
            found[conn.topic].append(_Stamped(stamp, conn, bytes(raw)))
    for items in found.values():
        items.sort(key=lambda m: m.stamp)
    return found


def _nearest(items: list[_Stamped], stamp: float, tolerance: float | None) -> _Stamped | None:
    if not items:
        return None
    best = min(items, key=lambda m: abs(m.stamp - stamp))
    return best if tolerance is None or abs(best.stamp - stamp) <= tolerance else None


def _partner(items: list[_Stamped], stamp: float, tolerance: float | None) -> _Stamped:
    """The depth or labels image of a colour frame; `_read_camera` keeps only colour frames that
    have one."""
    found = _nearest(items, stamp, tolerance)
    if found is None:
        raise BagError(f"no depth or labels image within {tolerance} s of the frame at {stamp} s")
    return found


def _read_camera(
    reader, camera: BagCamera, start, end, max_frames, world_frame, tree, tolerance
) -> FrameSet:
    t = camera.topics
    streams = _collect(
        reader, [x for x in (t.image_topic, t.depth_topic, t.labels_topic) if x], start, end
    )
    colours = streams.get(t.image_topic, [])
    window = f"between {start} and {end}" if start is not None or end is not None else "in the bag"
    if not colours:
        raise BagError(f"no colour frames on {t.image_topic} {window} ({reader.paths[0]})")
    # Only colour images that have their depth and labels partners can become frames.
    for partner in (t.depth_topic, t.labels_topic):
        if partner:
            candidates = streams.get(partner, [])
            paired = [c for c in colours if _nearest(candidates, c.stamp, tolerance) is not None]
            if not paired:
                raise BagError(
                    f"no image on {partner} is stamped within {tolerance:g} s of a "
                    "colour image on "
                    f"{t.image_topic} {window} ({len(candidates)} on {partner}, "
                    f"{len(colours)} colour)"
                )
            colours = paired
    picked = (
        [colours[i] for i in evenly_spaced(len(colours), max_frames)] if max_frames else colours
    )
    # Calibration is constant: the first CameraInfo anywhere in the bag (some drivers send it
    # once).
    info_connection = (
        next((c for c in reader.connections if c.topic == t.info_topic), None)
        if t.info_topic
        else None
    )
    info = _first(reader, info_connection) if info_connection is not None else None
    calibration = (
        CameraCalibration.from_message(info, rectified="image_rect" in t.image_topic)
        if info
        else None
    )
    undistorter = (
        calibration.undistorter() if calibration is not None and calibration.calibrated else None
    )
    intrinsics = (
        calibration.intrinsics() if calibration is not None and calibration.calibrated else None
    )
    announced = _label_names(reader, t.label_names_topic, end) if t.label_names_topic else []
    world = ""
    if tree is not None and camera.frame_id:
        if not tree.has_frame(camera.frame_id):
            raise BagError(
                f"camera {t.name!r}: its images' frame {camera.frame_id!r} is not in "
                "the bag's TF tree "
                f"(roots: {', '.join(tree.roots()) or 'none'}); record its TF or give no TF"
            )
        world = tree.world_frame(camera.frame_id, world_frame)
    source = _FrameSource(reader, camera, streams, tolerance, undistorter, intrinsics, tree, world)
    frames = []
    for index, item in enumerate(picked):
        try:
            names = _names_at(announced, item.stamp, t.label_names)
            frames.append(source.frame(item, index, names))
        except (ImageError, TransformLookupError) as error:
            raise BagError(f"camera {t.name!r}, frame at {item.stamp:.3f} s: {error}") from None
    return FrameSet(frames, world_frame=world, name=t.name)


def _label_names(reader, topic: str, end: float | None) -> list[tuple[float, dict[int, str]]]:
    """(bag time, id -> name) of each announcement on `topic` up to `end`. Names are state, often
    sent once at the start, so a frame gets every announcement made up to its time, later ones
    winning."""
    announced = []
    connections = [c for c in reader.connections if c.topic == topic]
    stop = None if end is None else int((end + _TF_MARGIN_S) * 1e9)
    for conn, log_ns, raw in reader.messages(connections=connections, stop=stop):
        announced.append(
            (log_ns / 1e9, parse_label_names_json(reader.deserialize(raw, conn.msgtype).data))
        )
    return announced


def _names_at(
    announced: list[tuple[float, dict[int, str]]], stamp: float, fixed: dict[int, str]
) -> dict[int, str]:
    names = dict(fixed)
    for when, update in announced:
        if when <= stamp + SYNC_TOLERANCE_S:
            names.update(update)
    return names


@dataclass(frozen=True)
class _FrameSource:
    """What turns one picked colour image of a camera into a Frame: its partner streams, its
    calibration and the TF tree that places it in `world` ("" for no poses)."""

    reader: AnyReader
    camera: BagCamera
    streams: dict[str, list[_Stamped]]
    tolerance: float | None
    undistorter: Undistorter | None
    intrinsics: CameraIntrinsics | None
    tree: TfTree | None
    world: str

    def frame(self, item: _Stamped, index: int, names: dict[int, str]) -> Frame:
        t = self.camera.topics
        rgb_msg = self._message(item)
        rgb = rgb_from_compressed(rgb_msg) if t.compressed else rgb_from_image(rgb_msg)
        depth = labels = None
        if t.depth_topic:
            depth_msg = self._message(self._partner(t.depth_topic, item))
            depth = (
                depth_from_compressed(depth_msg)
                if t.depth_compressed
                else depth_from_image(depth_msg)
            )
        if t.labels_topic:
            labels = labels_from_image(self._message(self._partner(t.labels_topic, item)))
        if self.undistorter is not None:
            rgb = self.undistorter.colour(rgb)
            depth = self.undistorter.depth(depth) if depth is not None else None
            labels = self.undistorter.labels(labels) if labels is not None else None
        pose = (
            self.tree.lookup(self.world, self.camera.frame_id, item.stamp)
            if self.tree is not None and self.world
            else None
        )
        return Frame(
            rgb,
            index=index,
            timestamp=item.stamp,
            camera=t.name,
            depth=depth,
            intrinsics=self.intrinsics,
            pose=pose,
            labels=labels,
            label_names=names_present(labels, names) if labels is not None else None,
        )

    def _partner(self, topic: str, item: _Stamped) -> _Stamped:
        return _partner(self.streams[topic], item.stamp, self.tolerance)

    def _message(self, item: _Stamped):
        return self.reader.deserialize(item.raw, item.connection.msgtype)


def format_summary(summary: BagSummary) -> str:
    """`spatialclaw bag info` as text, ending with the parameter block that configures the
    cameras."""
    lines = [
        f"bag: {summary.path}",
        f"time: {summary.start:.3f} .. {summary.end:.3f} s ({summary.end - summary.start:.1f} s)",
        "",
        "cameras:",
    ]
    duration = max(summary.end - summary.start, 1e-9)
    for camera in summary.cameras:
        lines.append(
            f"  {camera.topics.name}: frame {camera.frame_id or '(none)'}, world "
            f"{summary.world_frames.get(camera.topics.name) or '(no poses)'}"
        )
        for role, stream in (
            ("colour", camera.colour),
            ("depth", camera.depth),
            ("labels", camera.labels),
        ):
            if stream is not None:
                lines.append(
                    f"    {role:7s} {stream.topic} [{stream.encoding}] {stream.count} msgs, "
                    f"{stream.count / duration:.1f} Hz"
                )
        for role, topic in (
            ("info", camera.topics.info_topic),
            ("names", camera.topics.label_names_topic),
        ):
            if topic:
                lines.append(f"    {role:7s} {topic}")
        lines += [f"    note: {n}" for n in camera.notes]
    if not summary.cameras:
        lines.append("  none found")
    lines += [
        "",
        f"TF ({len(summary.tf_links)} links, roots: {', '.join(summary.tf_roots) or 'none'}):",
    ]
    for link in summary.tf_links:
        rate = (
            "static"
            if link.static
            else (f"{link.rate_hz:.1f} Hz" if link.rate_hz else f"{link.samples} sample(s)")
        )
        lines.append(f"  {link.parent} -> {link.child}: {rate}")
    lines += [f"note: {n}" for n in summary.notes]
    lines += [
        "",
        "configuration (config/spatialclaw.yaml layout):",
        "spatialclaw:",
        "  ros__parameters:",
        f"    cameras: {json.dumps([c.topics.name for c in summary.cameras])}",
        "    camera:",
    ]
    for camera in summary.cameras:
        lines.append(f"      {camera.topics.name}:")
        # For replaying this bag into the node: `spatialclaw bag play` publishes reliably.
        for key, value in {**camera.topics.parameters(), "reliable": True}.items():
            lines.append(f"        {key}: {json.dumps(value)}")
    worlds = {w for w in summary.world_frames.values() if w}
    if worlds:
        lines += ["    pose_source: tf", f"    world_frame: {min(worlds)}"]
    return "\n".join(lines)
