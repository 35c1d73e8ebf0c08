"""Bags written the way real drivers record them, from a rendered scene with known geometry.

Each layout copies a driver's topic names, encodings and frame names:
- RealSense (realsense2_camera 4.x, ROS 2 mcap): JPEG colour on image_raw/compressed, 16UC1
  millimetre depth aligned to colour, plus the unaligned depth stream, under /camera/camera/...;
- ZED (zed-ros2-wrapper, ROS 2 sqlite3): BGRA rectified colour, 32FC1 registered depth and a
  32FC1 confidence map that is not depth;
- a simulator (ROS 2 mcap): rgb8, 32FC1 depth, 32SC1 instance labels and their names as JSON,
  sent once at the start, on topics without image_transport naming;
- OpenNI (ROS 1 .bag): bgr8 colour and 16UC1 registered depth, frames with ROS 1's leading slash.
Every bag has a TF tree of at least four hops from map to the optical frame: map -> odom on
/tf_static, odom -> base_link on /tf at 30 Hz (images at 5 Hz, on other stamps), and static mounts.
The robot drives straight while turning at a constant rate, so tf2's slerp + lerp between /tf
samples is exact and the test knows every image's true pose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rosbags.rosbag1 import Writer as Ros1Writer
from rosbags.rosbag2 import StoragePlugin, Writer as Ros2Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from scipy.spatial.transform import Rotation

from spatialclaw_ros.eval.synthetic import Scene, SceneObject, default_intrinsics
from spatialclaw_ros.eval.synthetic.render import render_frame
from spatialclaw_ros.frames import Frame
from spatialclaw_ros.frames.codec import (
    encode_compressed,
    encode_compressed_depth,
    encode_image,
    millimetres_from_metres,
)
from spatialclaw_ros.frames.poses import rigid_transform, translation_quaternion

SCENE = Scene(
    (
        SceneObject(
            "red box", "box", (205, 40, 40), np.array([2.0, 0.7, 0.3]), np.array([0.6, 0.6, 0.6])
        ),
        SceneObject(
            "green box",
            "box",
            (40, 180, 60),
            np.array([2.6, -0.2, 0.25]),
            np.array([0.5, 0.5, 0.5]),
        ),
        SceneObject(
            "blue ball",
            "sphere",
            (45, 75, 210),
            np.array([2.2, -1.1, 0.25]),
            np.array([0.5, 0.5, 0.5]),
        ),
    ),
    room_size=(8.0, 6.0, 3.0),
    name="driver_bags",
)
START = 1_700_000_000.0  # bag time of the first TF sample
IMAGE_PERIOD_S = 0.2  # 5 Hz images
IMAGE_OFFSET_S = 0.05  # first image this long after the first TF sample
TF_PERIOD_S = 1 / 30  # 30 Hz /tf
FRAMES = 6
MAP_TO_ODOM = rigid_transform([0.5, -0.3, 0.0], Rotation.from_euler("z", 0.2).as_quat())
# REP-103 body -> optical axes
OPTICAL_IN_BODY = rigid_transform([0, 0, 0], [-0.5, 0.5, -0.5, 0.5])


def base_in_odom(t: float) -> np.ndarray:
    """The robot 1.5 m behind the scene, driving sideways along y at 0.25 m/s while yawing at 0.05
    rad/s."""
    dt = t - START
    return rigid_transform(
        [-1.8, -0.4 + 0.25 * dt, 0.0], Rotation.from_euler("z", -0.25 + 0.05 * dt).as_quat()
    )


@dataclass(frozen=True)
class Layout:
    """Topic names, encodings and the TF mount chain of one driver."""

    colour: str
    colour_format: str  # an Image encoding, or "jpeg" for image_transport compressed colour
    depth: str
    depth_format: str  # 16UC1 | 32FC1 | compressedDepth
    info: str
    optical_frame: str
    mounts: tuple[tuple[str, str, np.ndarray], ...]  # base_link ... -> optical frame, static
    labels: str = ""
    label_names: str = ""
    # (topic, encoding, frame): streams that must be left out
    extra_images: tuple[tuple[str, str, str], ...] = ()
    frame_prefix: str = ""  # ROS 1 frames were written with a leading slash

    def frame(self, name: str) -> str:
        return self.frame_prefix + name


def _chain(*names: str, last: np.ndarray) -> tuple[tuple[str, str, np.ndarray], ...]:
    """Static mounts base_link -> names..., the last one carrying `last`, the others small
    offsets."""
    links, parent = [], "base_link"
    for i, name in enumerate(names):
        links.append(
            (
                parent,
                name,
                last
                if i == len(names) - 1
                else rigid_transform([0.1, 0.0, 0.4 if i == 0 else 0.02], [0, 0, 0, 1]),
            )
        )
        parent = name
    return tuple(links)


REALSENSE = Layout(
    colour="/camera/camera/color/image_raw/compressed",
    colour_format="jpeg",
    depth="/camera/camera/aligned_depth_to_color/image_raw",
    depth_format="16UC1",
    info="/camera/camera/color/camera_info",
    optical_frame="camera_color_optical_frame",
    mounts=_chain(
        "camera_link", "camera_color_frame", "camera_color_optical_frame", last=OPTICAL_IN_BODY
    )
    + (
        ("camera_link", "camera_depth_frame", rigid_transform([0, 0.015, 0], [0, 0, 0, 1])),
        ("camera_depth_frame", "camera_depth_optical_frame", OPTICAL_IN_BODY),
    ),
    extra_images=(
        ("/camera/camera/depth/image_rect_raw", "16UC1", "camera_depth_optical_frame"),
        (
            "/camera/camera/aligned_depth_to_color/camera_info",
            "info",
            "camera_color_optical_frame",
        ),
    ),
)
ZED = Layout(
    colour="/zed/zed_node/rgb/image_rect_color",
    colour_format="bgra8",
    depth="/zed/zed_node/depth/depth_registered",
    depth_format="32FC1",
    info="/zed/zed_node/rgb/camera_info",
    optical_frame="zed_left_camera_optical_frame",
    mounts=_chain(
        "zed_camera_link",
        "zed_camera_center",
        "zed_left_camera_frame",
        "zed_left_camera_optical_frame",
        last=OPTICAL_IN_BODY,
    ),
    extra_images=(
        ("/zed/zed_node/confidence/confidence_map", "32FC1", "zed_left_camera_optical_frame"),
    ),
)
SIMULATOR = Layout(
    colour="/sim/front_cam/rgb",
    colour_format="rgb8",
    depth="/sim/front_cam/depth",
    depth_format="32FC1",
    info="/sim/front_cam/camera_info",
    optical_frame="front_cam_optical",
    mounts=_chain("chassis", "front_cam", "front_cam_optical", last=OPTICAL_IN_BODY),
    labels="/sim/front_cam/instance_segmentation",
    label_names="/sim/front_cam/semantic_labels",
)
OPENNI = Layout(
    colour="/camera/rgb/image_color",
    colour_format="bgr8",
    depth="/camera/depth_registered/image_raw",
    depth_format="16UC1",
    info="/camera/rgb/camera_info",
    optical_frame="camera_rgb_optical_frame",
    mounts=_chain(
        "camera_link", "camera_rgb_frame", "camera_rgb_optical_frame", last=OPTICAL_IN_BODY
    ),
    frame_prefix="/",
)


@dataclass
class GroundTruth:
    frames: list[Frame]  # as rendered: exact depth, labels, poses (optical frame in map)
    layout: Layout

    @property
    def stamps(self) -> list[float]:
        return [f.timestamp for f in self.frames]


def optical_in_map(layout: Layout, t: float) -> np.ndarray:
    pose = MAP_TO_ODOM @ base_in_odom(t)
    for _, _, mount in layout.mounts[
        : [m[1] for m in layout.mounts].index(layout.optical_frame) + 1
    ]:
        pose = pose @ mount
    return pose


def render_truth(layout: Layout, width: int = 128, height: int = 96) -> GroundTruth:
    intrinsics = default_intrinsics(width, height)
    frames = []
    for i in range(FRAMES):
        t = START + IMAGE_OFFSET_S + i * IMAGE_PERIOD_S
        frames.append(render_frame(SCENE, optical_in_map(layout, t), intrinsics, i, t, "camera"))
    return GroundTruth(frames, layout)


class _Bag:
    """Writes messages of one layout through either rosbags writer."""

    def __init__(self, path: Path, ros1: bool, storage: str):
        self.ros1 = ros1
        if ros1:
            self.store = get_typestore(Stores.ROS1_NOETIC)
            self.store.register(
                get_types_from_msg(
                    "geometry_msgs/TransformStamped[] transforms", "tf2_msgs/msg/TFMessage"
                )
            )
            self.writer = Ros1Writer(path)
        else:
            self.store = get_typestore(Stores.ROS2_KILTED)
            plugin = StoragePlugin.SQLITE3 if storage == "sqlite3" else StoragePlugin.MCAP
            self.writer = Ros2Writer(path, version=9, storage_plugin=plugin)
        self.connections = {}
        self.T = self.store.types

    def __enter__(self):
        self.writer.open()
        return self

    def __exit__(self, *exc):
        self.writer.close()

    def write(self, topic: str, msgtype: str, t: float, msg) -> None:
        if topic not in self.connections:
            self.connections[topic] = self.writer.add_connection(
                topic, msgtype, typestore=self.store
            )
        serialize = self.store.serialize_ros1 if self.ros1 else self.store.serialize_cdr
        self.writer.write(self.connections[topic], int(round(t * 1e9)), serialize(msg, msgtype))

    def header(self, t: float, frame: str):
        ns = int(round(t * 1e9))
        stamp = self.T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9)
        if self.ros1:
            return self.T["std_msgs/msg/Header"](seq=0, stamp=stamp, frame_id=frame)
        return self.T["std_msgs/msg/Header"](stamp=stamp, frame_id=frame)

    def image(self, t: float, frame: str, array: np.ndarray, encoding: str):
        raw = encode_image(array, encoding)
        return self.T["sensor_msgs/msg/Image"](
            header=self.header(t, frame),
            height=raw.height,
            width=raw.width,
            encoding=raw.encoding,
            is_bigendian=0,
            step=raw.step,
            data=np.frombuffer(raw.data, np.uint8),
        )

    def compressed(self, t: float, frame: str, packed):
        return self.T["sensor_msgs/msg/CompressedImage"](
            header=self.header(t, frame),
            format=packed.format,
            data=np.frombuffer(packed.data, np.uint8),
        )

    def camera_info(self, t: float, frame: str, k):
        fields = dict(
            header=self.header(t, frame),
            height=k.height,
            width=k.width,
            distortion_model="plumb_bob",
            binning_x=0,
            binning_y=0,
            roi=self.T["sensor_msgs/msg/RegionOfInterest"](
                x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
            ),
        )
        p = np.hstack([k.matrix(), np.zeros((3, 1))]).reshape(-1)
        matrices = dict(d=np.zeros(5), k=k.matrix().reshape(-1), r=np.eye(3).reshape(-1), p=p)
        fields.update(
            {(name.upper() if self.ros1 else name): value for name, value in matrices.items()}
        )
        return self.T["sensor_msgs/msg/CameraInfo"](**fields)

    def tf(self, t: float, links: list[tuple[str, str, np.ndarray]]):
        transforms = []
        for parent, child, matrix in links:
            (x, y, z), (qx, qy, qz, qw) = translation_quaternion(matrix)
            transform = self.T["geometry_msgs/msg/Transform"](
                translation=self.T["geometry_msgs/msg/Vector3"](
                    x=float(x), y=float(y), z=float(z)
                ),
                rotation=self.T["geometry_msgs/msg/Quaternion"](
                    x=float(qx), y=float(qy), z=float(qz), w=float(qw)
                ),
            )
            transforms.append(
                self.T["geometry_msgs/msg/TransformStamped"](
                    header=self.header(t, parent), child_frame_id=child, transform=transform
                )
            )
        return self.T["tf2_msgs/msg/TFMessage"](transforms=transforms)


def write_driver_bag(
    path: Path, layout: Layout, ros1: bool = False, storage: str = "mcap"
) -> GroundTruth:
    """Renders the scene along the robot's path and writes it as `layout`'s driver would record
    it."""
    truth = render_truth(layout)
    f = layout.frame
    end = truth.stamps[-1] + 0.3
    with _Bag(path, ros1, storage) as bag:
        statics = [(f("map"), f("odom"), MAP_TO_ODOM)] + [
            (f(p), f(c), m) for p, c, m in layout.mounts
        ]
        bag.write("/tf_static", "tf2_msgs/msg/TFMessage", START, bag.tf(START, statics))
        if layout.label_names:
            names = {str(i + 1): {"class": o.name} for i, o in enumerate(SCENE.objects)}
            bag.write(
                layout.label_names,
                "std_msgs/msg/String",
                START,
                bag.T["std_msgs/msg/String"](data=json.dumps(names)),
            )
        events = [
            (START + i * TF_PERIOD_S, "tf", None)
            for i in range(int((end - START) / TF_PERIOD_S) + 1)
        ]
        events += [(frame.timestamp, "frame", frame) for frame in truth.frames]
        for t, kind, frame in sorted(events, key=lambda e: (e[0], e[1])):
            if kind == "tf":
                bag.write(
                    "/tf",
                    "tf2_msgs/msg/TFMessage",
                    t,
                    bag.tf(t, [(f("odom"), f("base_link"), base_in_odom(t))]),
                )
                continue
            optical = f(layout.optical_frame)
            log = t + 0.004  # recorders log a message a little after its stamp
            if layout.colour_format == "jpeg":
                bag.write(
                    layout.colour,
                    "sensor_msgs/msg/CompressedImage",
                    log,
                    bag.compressed(t, optical, encode_compressed(frame.image, "jpeg", quality=98)),
                )
            else:
                bag.write(
                    layout.colour,
                    "sensor_msgs/msg/Image",
                    log,
                    bag.image(
                        t,
                        optical,
                        _colour(frame.image, layout.colour_format),
                        layout.colour_format,
                    ),
                )
            if layout.depth_format == "16UC1":
                depth = bag.image(t, optical, millimetres_from_metres(frame.depth), "16UC1")
                bag.write(layout.depth, "sensor_msgs/msg/Image", log, depth)
            elif layout.depth_format == "compressedDepth":
                bag.write(
                    layout.depth,
                    "sensor_msgs/msg/CompressedImage",
                    log,
                    bag.compressed(t, optical, encode_compressed_depth(frame.depth)),
                )
            else:
                bag.write(
                    layout.depth,
                    "sensor_msgs/msg/Image",
                    log,
                    bag.image(t, optical, frame.depth.astype(np.float32), "32FC1"),
                )
            bag.write(
                layout.info,
                "sensor_msgs/msg/CameraInfo",
                log,
                bag.camera_info(t, optical, frame.intrinsics),
            )
            if layout.labels:
                bag.write(
                    layout.labels,
                    "sensor_msgs/msg/Image",
                    log,
                    bag.image(t, optical, frame.labels.astype(np.int32), "32SC1"),
                )
            for topic, encoding, frame_name in layout.extra_images:
                if encoding == "info":
                    bag.write(
                        topic,
                        "sensor_msgs/msg/CameraInfo",
                        log,
                        bag.camera_info(t, f(frame_name), frame.intrinsics),
                    )
                else:
                    noise = np.full(
                        frame.depth.shape, 7, np.uint16 if encoding == "16UC1" else np.float32
                    )
                    bag.write(
                        topic,
                        "sensor_msgs/msg/Image",
                        log,
                        bag.image(t, f(frame_name), noise, encoding),
                    )
    return truth


def _colour(rgb: np.ndarray, encoding: str) -> np.ndarray:
    if encoding == "rgb8":
        return rgb
    if encoding == "bgr8":
        return np.ascontiguousarray(rgb[:, :, ::-1])
    if encoding == "bgra8":
        return np.dstack([rgb[:, :, ::-1], np.full(rgb.shape[:2], 255, np.uint8)])
    raise ValueError(encoding)
