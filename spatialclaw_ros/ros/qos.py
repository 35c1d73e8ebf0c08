"""QoS of the topics that carry state rather than a stream (docs/ros.md, "QoS per topic")."""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

# Latched, as /tf_static and nav2's /map: the publisher keeps its last messages and hands them to a
# subscriber that joins later. Both ends must use it (a transient-local subscription does not match
# a volatile publisher).
LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
# Label names arrive as several announcements that add up (a later name for an id wins): keep more.
LATCHED_NAMES_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=100,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
