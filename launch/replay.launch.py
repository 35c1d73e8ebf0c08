"""Replay a recorded bag into the agent node, on simulated time, for live evaluation.

ros2 launch spatialclaw_ros replay.launch.py bag:=/data/kitchen_run camera:=front \
    image_topic:=/front/color/image_raw info_topic:=/front/color/camera_info rate:=1.0
Every argument of spatialclaw.launch.py may be given here too: command-line launch arguments
reach the included launch file. Then send goals to /spatialclaw/ask as usual.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration


def generate_launch_description():
    share = get_package_share_directory("spatialclaw_ros")
    play = ExecuteProcess(
        # --clock publishes the bag's time on /clock so frame stamps and the node's clock agree.
        cmd=["ros2", "bag", "play", LaunchConfiguration("bag"), "--clock", "--rate", LaunchConfiguration("rate"),
             "--loop"],
        output="screen",
    )
    node = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, "launch", "spatialclaw.launch.py")),
        launch_arguments={"use_sim_time": "true"}.items(),
    )
    return LaunchDescription(
        [
            DeclareLaunchArgument("bag", description="bag directory (mcap or sqlite3)"),
            DeclareLaunchArgument("rate", default_value="1.0", description="playback speed"),
            play,
            node,
        ]
    )
