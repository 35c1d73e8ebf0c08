"""`spatialclaw`: the command line. Each area registers its own subcommands."""

from __future__ import annotations

import argparse
import sys

from spatialclaw_ros.agent import cli as agent_cli
from spatialclaw_ros.eval import cli as eval_cli
from spatialclaw_ros.perception import cli as perception_cli
from spatialclaw_ros.ros import cli as ros_cli  # registers only; imports rclpy when a ROS command runs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spatialclaw",
        description="Answer spatial questions about camera frames with a VLM that writes code "
        "into a sandboxed kernel (depth, poses, masks).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for area in (agent_cli, perception_cli, eval_cli, ros_cli):
        area.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
