"""Shared test set-up.

Each pytest process talks DDS on its own domain, so parallel runs on one machine never see each
other's nodes or topics.
"""

import os

os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 200))
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
os.environ.setdefault("MPLBACKEND", "Agg")
