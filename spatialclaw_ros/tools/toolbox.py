"""The `tools` object agent code uses."""

from __future__ import annotations

from spatialclaw_ros.tools.draw import Draw
from spatialclaw_ros.tools.geometry import Geometry
from spatialclaw_ros.tools.graph import Graph
from spatialclaw_ros.tools.inputs import InputImage
from spatialclaw_ros.tools.link import HostLink
from spatialclaw_ros.tools.masks import Mask
from spatialclaw_ros.tools.perception import SAM3, Reconstruct
from spatialclaw_ros.tools.timing import Time


class Toolbox:
    """tools.Reconstruct, tools.SAM3, tools.Geometry, tools.Mask, tools.Time, tools.Graph,
    tools.Draw."""

    def __init__(self, link: HostLink, videos: list[list[InputImage]]) -> None:
        self.Reconstruct = Reconstruct(link)
        self.SAM3 = SAM3(link)
        self.Geometry = Geometry
        self.Mask = Mask
        self.Time = Time(videos)
        self.Graph = Graph
        self.Draw = Draw

    def __repr__(self) -> str:
        return (
            "tools: Reconstruct, SAM3, Geometry, Mask, Time, Graph, Draw (see the tool reference)"
        )
