"""`spatialclaw`: the command line. Each area registers its own subcommands."""

from __future__ import annotations

import argparse
import sys

from spatialclaw_ros.agent import cli as agent_cli
from spatialclaw_ros.eval import cli as eval_cli
from spatialclaw_ros.perception import cli as perception_cli

# registers only; imports rclpy when a ROS command runs
from spatialclaw_ros.ros import cli as ros_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spatialclaw",
        description="Answer spatial questions about camera frames with a VLM that writes code "
        "into a sandboxed kernel (depth, poses, masks).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for area in (agent_cli, perception_cli, eval_cli, ros_cli):
        area.register(sub)
    questions = sub.add_parser("questions", help="check a questions file for `spatialclaw replay`")
    questions_commands = questions.add_subparsers(
        dest="questions_command", required=True, metavar="check"
    )
    check = questions_commands.add_parser(
        "check",
        help="validate a questions JSONL file against its schema",
        description="Check every line of a questions file (the layout of spatialclaw_ros/eval/"
        "bag_questions.schema.json, or exported sample records): fields, types, option "
        "letters, answers.",
    )
    check.add_argument("file", help="questions .jsonl")
    check.set_defaults(run=_check_questions)
    return parser


def _check_questions(args: argparse.Namespace) -> int:
    from spatialclaw_ros.eval.replay import check_questions

    problems = check_questions(args.file)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {args.file}", file=sys.stderr)
        return 1
    print(f"{args.file}: OK")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
