"""Replay a recorded bag into the agent node on simulated time: for live evaluation, or to try the
node on a recording.

Without `questions`, the bag is played in a loop with `ros2 bag play --clock`; send goals to
/spatialclaw/ask yourself:
    ros2 launch spatialclaw_ros replay.launch.py bag:=/data/kitchen_run camera:=front \
        image_topic:=/front/color/image_raw info_topic:=/front/color/camera_info rate:=1.0
With `questions` (a questions.jsonl with replay stamps, as `spatialclaw synthetic bag` writes it),
`spatialclaw replay --online` plays the bag instead, asks each question at its stamp, scores the
answers and writes predictions and a report to `out`:
    ros2 launch spatialclaw_ros replay.launch.py bag:=runs/synthetic.bag \
        questions:=runs/synthetic.bag.questions.jsonl out:=runs/replay \
        image_topic:=/camera/color/image_raw info_topic:=/camera/color/camera_info \
        depth_topic:=/camera/depth/image_raw labels_topic:=/camera/labels/image_raw \
        label_names_topic:=/camera/labels/names pose_source:=tf \
        executor:=rules reconstruct_backend:=sensor segment_backend:=labels
        with_perception_node:=false
Every argument of spatialclaw.launch.py may be given here too: command-line launch arguments
reach the included launch file.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, ExecuteProcess, IncludeLaunchDescription
from launch.conditions import IfCondition, UnlessCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PythonExpression

from launch import LaunchDescription


def generate_launch_description():
    share = get_package_share_directory("spatialclaw_ros")
    bag, questions = LaunchConfiguration("bag"), LaunchConfiguration("questions")
    scoring = PythonExpression(["'", questions, "' != ''"])
    play = ExecuteProcess(
        # --clock publishes the bag's time on /clock so frame stamps and the node's clock agree.
        cmd=[
            "ros2",
            "bag",
            "play",
            bag,
            "--clock",
            "--rate",
            LaunchConfiguration("rate"),
            "--loop",
        ],
        output="screen",
        condition=UnlessCondition(scoring),
    )
    score = ExecuteProcess(
        # Plays the bag itself (with /clock), pausing while each question is answered.
        cmd=[
            "spatialclaw",
            "replay",
            bag,
            "--online",
            "--questions",
            questions,
            "--out",
            LaunchConfiguration("out"),
            "--rate",
            LaunchConfiguration("rate"),
        ],
        output="screen",
        condition=IfCondition(scoring),
    )
    node = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, "launch", "spatialclaw.launch.py")),
        launch_arguments={"use_sim_time": "true"}.items(),
    )
    return LaunchDescription(
        [
            DeclareLaunchArgument("bag", description="bag directory (mcap or sqlite3)"),
            DeclareLaunchArgument(
                "rate", default_value="1.0", description="playback speed (ros2 bag play)"
            ),
            DeclareLaunchArgument(
                "questions",
                default_value="",
                description="questions.jsonl to ask and score (empty = just play the bag)",
            ),
            DeclareLaunchArgument(
                "out", default_value="runs/replay", description="predictions and report folder"
            ),
            play,
            score,
            node,
        ]
    )
