"""`spatialclaw node`, `spatialclaw demo` and `spatialclaw bag info | play`. rclpy is imported only
when a command that needs it runs (`bag info` does not)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    node = subparsers.add_parser(
        "node",
        help="run the ROS 2 agent node (action server ~/ask)",
        description="Run the spatialclaw agent node: buffers camera topics and answers AskSpatial goals on "
        "/spatialclaw/ask. Parameters as in config/spatialclaw.yaml.",
    )
    node.add_argument("--params-file", help="ROS parameters YAML (e.g. config/spatialclaw.yaml)")
    node.add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME:=VALUE", help="set one parameter (repeatable)"
    )
    node.set_defaults(run=_run_node)

    demo = subparsers.add_parser(
        "demo",
        help="end-to-end ROS demo on a synthetic scene (CPU, under a minute)",
        description="Render a synthetic RGB-D scene, start the agent node, publish the frames over DDS, "
        "ask several questions through the action server and print answers, TF frames and markers.",
    )
    demo.add_argument("--executor", default="rules", help="agent executor (default: rules, needs no VLM)")
    demo.add_argument("--vlm-url", help="OpenAI-compatible endpoint for the code executor")
    demo.add_argument("--vlm-model", help="model name at that endpoint")
    demo.add_argument("--seed", type=int, default=3, help="scene seed (default 3)")
    demo.add_argument("--frames", type=int, default=12, help="frames rendered along the camera path (default 12)")
    demo.add_argument("--record-bag-dir", default="", help="also record the answers to an mcap bag here")
    demo.set_defaults(run=_run_demo)

    bag = subparsers.add_parser("bag", help="look into a bag, or stream it into the running node")
    bag_commands = bag.add_subparsers(dest="bag_command", required=True, metavar="info|play")
    info = bag_commands.add_parser(
        "info", help="cameras, depth/label pairing, TF frames and rates, time range, configuration",
        description="Read a ROS 2 (mcap, sqlite3) or ROS 1 bag without ROS and print the cameras found (by "
        "image_transport naming and frame ids), their depth, labels and CameraInfo, the TF tree with rates, the time "
        "range, and the camera.<name>.* parameters the node and `spatialclaw replay` would use.",
    )
    info.add_argument("bag", help="bag folder (mcap or sqlite3) or ROS 1 .bag file")
    info.add_argument("--config", help="parameter file whose camera.<name>.* settings to use instead of detection")
    info.add_argument("--world-frame", default="", help="world frame for poses (default: map, else odom, else the root)")
    info.set_defaults(run=_run_bag_info)
    play = bag_commands.add_parser(
        "play", help="publish a bag into the running agent node (no ros2 bag needed)",
        description="Publish every message of the bag on its topic with /clock, once the node has subscribed to "
        "each camera stream the bag holds (so no frame is lost at the start). Run the node with use_sim_time.",
    )
    play.add_argument("bag", help="bag folder (mcap or sqlite3) or ROS 1 .bag file")
    play.add_argument("--rate", type=float, default=1.0, help="bag seconds per wall-clock second (default 1)")
    play.add_argument("--wait-s", type=float, default=30.0, help="how long to wait for the node's subscriptions")
    play.set_defaults(run=_run_bag_play)


def _run_node(args: argparse.Namespace) -> int:
    from spatialclaw_ros.ros.replay import use_large_data_transport

    use_large_data_transport()  # camera images are large messages: see spatialclaw_ros.ros.replay
    from spatialclaw_ros.ros.agent_node import main

    ros_args = []
    if args.params_file:
        ros_args += ["--params-file", args.params_file]
    for item in args.param:
        ros_args += ["-p", item]
    return main(["spatialclaw", "--ros-args", *ros_args] if ros_args else None)


def _run_demo(args: argparse.Namespace) -> int:
    from spatialclaw_ros.ros.demo import DemoOptions, run_demo

    return run_demo(
        DemoOptions(
            executor=args.executor,
            vlm_url=args.vlm_url,
            vlm_model=args.vlm_model,
            seed=args.seed,
            frames=args.frames,
            record_bag_dir=args.record_bag_dir,
        )
    )


def _run_bag_info(args: argparse.Namespace) -> int:
    from spatialclaw_ros.frames.bags import format_summary, inspect_bag

    try:
        summary = inspect_bag(args.bag, config=args.config, world_frame=args.world_frame)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_summary(summary))
    return 0 if summary.cameras else 1


def _run_bag_play(args: argparse.Namespace) -> int:
    from spatialclaw_ros.ros.replay import play_bag, use_large_data_transport

    use_large_data_transport()
    try:
        played = play_bag(args.bag, rate=args.rate, connect_timeout_s=args.wait_s)
    except (OSError, ValueError, TimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"played {played.messages} messages ({played.frames} camera frames) from {args.bag}")
    return 0
