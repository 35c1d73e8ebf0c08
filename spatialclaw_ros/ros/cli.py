"""`spatialclaw node`, `spatialclaw demo`, `spatialclaw bag info | play` and `spatialclaw replay`
(offline through the eval harness, or --online through the running node). rclpy is imported only
when a command that needs it runs (`bag info` and offline replay do not)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spatialclaw_ros.eval.answerers import EXECUTORS
from spatialclaw_ros.eval.cli import add_ray_arguments, fail, ray_options


def register(subparsers) -> None:
    node = subparsers.add_parser(
        "node",
        help="run the ROS 2 agent node (action server ~/ask)",
        description="Run the spatialclaw agent node: buffers camera topics and answers AskSpatial "
        "goals on "
        "/spatialclaw/ask. Parameters as in config/spatialclaw.yaml.",
    )
    node.add_argument("--params-file", help="ROS parameters YAML (e.g. config/spatialclaw.yaml)")
    node.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME:=VALUE",
        help="set one parameter (repeatable)",
    )
    node.set_defaults(run=_run_node)

    demo = subparsers.add_parser(
        "demo",
        help="end-to-end ROS demo on a synthetic scene (CPU, under a minute)",
        description="Render a synthetic RGB-D scene, start the agent node, publish the frames "
        "over DDS, ask several questions through the action server and print answers, TF frames "
        "and markers.",
    )
    demo.add_argument(
        "--executor", default="rules", help="agent executor (default: rules, needs no VLM)"
    )
    demo.add_argument("--vlm-url", help="OpenAI-compatible endpoint for the code executor")
    demo.add_argument("--vlm-model", help="model name at that endpoint")
    demo.add_argument("--seed", type=int, default=3, help="scene seed (default 3)")
    demo.add_argument(
        "--frames", type=int, default=12, help="frames rendered along the camera path (default 12)"
    )
    demo.add_argument(
        "--record-bag-dir", default="", help="also record the answers to an mcap bag here"
    )
    demo.set_defaults(run=_run_demo)

    bag = subparsers.add_parser("bag", help="look into a bag, or stream it into the running node")
    bag_commands = bag.add_subparsers(dest="bag_command", required=True, metavar="info|play")
    info = bag_commands.add_parser(
        "info",
        help="cameras, depth/label pairing, TF frames and rates, time range, configuration",
        description="Read a ROS 2 (mcap, sqlite3) or ROS 1 bag without ROS and print the cameras "
        "found (by "
        "image_transport naming and frame ids), their depth, labels and CameraInfo, the "
        "TF tree with rates, the time "
        "range, and the camera.<name>.* parameters the node and `spatialclaw replay` would use.",
    )
    info.add_argument("bag", help="bag folder (mcap or sqlite3) or ROS 1 .bag file")
    info.add_argument(
        "--config",
        help="parameter file whose camera.<name>.* settings to use instead of detection",
    )
    info.add_argument(
        "--world-frame",
        default="",
        help="world frame for poses (default: map, else odom, else the root)",
    )
    info.set_defaults(run=_run_bag_info)
    play = bag_commands.add_parser(
        "play",
        help="publish a bag into the running agent node (no ros2 bag needed)",
        description="Publish every message of the bag on its topic with /clock, once the node has "
        "subscribed to "
        "each camera stream the bag holds (so no frame is lost at the start). Run the "
        "node with use_sim_time.",
    )
    play.add_argument("bag", help="bag folder (mcap or sqlite3) or ROS 1 .bag file")
    play.add_argument(
        "--rate", type=float, default=1.0, help="bag seconds per wall-clock second (default 1)"
    )
    play.add_argument(
        "--wait-s", type=float, default=30.0, help="how long to wait for the node's subscriptions"
    )
    play.set_defaults(run=_run_bag_play)

    b = subparsers.add_parser(
        "replay",
        help="score questions against a recorded ROS 2 bag",
        description="Offline (default): reads the bag directly, no ROS needed. "
        "--online: plays the bag into the running agent node and sends each question as a goal.",
    )
    b.add_argument("bag", help="bag folder (mcap or sqlite3)")
    b.add_argument(
        "--questions",
        required=True,
        help="questions.jsonl (sample records with time windows in extra)",
    )
    b.add_argument("--online", action="store_true", help="go through the running ROS node")
    b.add_argument("--executor", default="rules", choices=EXECUTORS)
    b.add_argument("--out", default="runs/replay")
    b.add_argument("--concurrency", type=int, default=4)
    b.add_argument("--config", default=None)
    b.add_argument("--reconstruct", default="sensor", choices=["da3", "sensor", "fused"])
    b.add_argument("--segment", default="labels", choices=["sam3", "labels"])
    add_ray_arguments(b)
    online = b.add_argument_group("online mode (--online)")
    online.add_argument("--action", default="/spatialclaw/ask", help="the node's action server")
    online.add_argument(
        "--rate",
        type=float,
        default=1.0,
        help="playback speed, bag seconds per second (default 1)",
    )
    online.add_argument(
        "--odometry-topic",
        default="",
        help="also republish the camera's /tf poses as Odometry here (for a node with pose_source "
        "odom where tf2 is not installed)",
    )
    online.add_argument(
        "--odometry-frame",
        default="camera_color_optical_frame",
        help="the /tf child frame to republish",
    )
    online.add_argument(
        "--settle-s",
        type=float,
        default=0.5,
        help="wall seconds between a question's last frame and its goal (default 0.5)",
    )
    b.set_defaults(run=run_replay)


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


def run_replay(args: argparse.Namespace) -> int:
    from spatialclaw_ros.eval.replay import load_questions
    from spatialclaw_ros.eval.reports import markdown_table, write_report

    try:
        samples = load_questions(args.questions, args.bag)
    except (OSError, ValueError) as exc:
        return fail(str(exc))
    if args.online:
        if args.ray is not None:
            return fail(
                "--ray spreads offline replay; --online goes through the one running ROS node"
            )
        from spatialclaw_ros.ros.replay import replay_into_node, use_large_data_transport

        use_large_data_transport()
        predictions = replay_into_node(
            args.bag,
            samples,
            args.out,
            action=args.action,
            rate=args.rate,
            odometry_topic=args.odometry_topic,
            odometry_frame=args.odometry_frame,
            settle_s=args.settle_s,
        )
    else:
        from spatialclaw_ros.eval.answerers import build_answerer
        from spatialclaw_ros.eval.replay import replay_offline

        answerer_args = {
            "config_path": args.config,
            "reconstruct_backend": args.reconstruct,
            "segment_backend": args.segment,
            "trace_dir": str(Path(args.out) / "traces"),
        }
        if args.ray is None:
            answerer = build_answerer(args.executor, **answerer_args)
            predictions = replay_offline(
                args.bag, samples, answerer, args.out, args.executor, args.concurrency
            ).predictions
        else:
            from spatialclaw_ros.eval.distributed import AnswererSpec, run_samples_on_ray

            spec = AnswererSpec.resolve(args.executor, bag=str(args.bag), **answerer_args)
            try:
                predictions = run_samples_on_ray(
                    samples, spec, args.out, options=ray_options(args), load_media=False
                ).predictions
            except ConnectionError as exc:
                return fail(str(exc))
    print(markdown_table(write_report(args.out, predictions, samples)))
    if predictions and all(p.error for p in predictions):
        return fail(
            "every question failed "
            f"({', '.join(sorted({p.error for p in predictions if p.error}))}); the causes are "
            "above"
        )
    return 0
