#!/usr/bin/env python3
"""`make demo`: the end-to-end ROS demo (see `spatialclaw demo --help`)."""

import sys

from spatialclaw_ros.cli import main

sys.exit(main(["demo", *sys.argv[1:]]))
