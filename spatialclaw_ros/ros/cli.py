"""`spatialclaw node` and `spatialclaw demo`. rclpy is imported only when one of them runs."""

from __future__ import annotations

import argparse


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


def _run_node(args: argparse.Namespace) -> int:
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
