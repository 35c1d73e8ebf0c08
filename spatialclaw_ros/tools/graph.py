"""tools.Graph: quick plots and scene graphs of 3D objects."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from spatialclaw_ros.tools.geometry import Geometry
from spatialclaw_ros.tools.images import figure_to_rgb

RELATIONS = ("left_of", "right_of", "above", "below", "in_front_of", "behind", "near")


def _render(figure) -> np.ndarray:
    try:
        return figure_to_rgb(figure)
    finally:
        plt.close(figure)


class Graph:
    """Plots (returned as RGB images, ready for show()) and scene graphs (networkx DiGraph)."""

    @staticmethod
    def plot(
        x, y=None, kind: str = "line", title: str = "", xlabel: str = "", ylabel: str = ""
    ) -> np.ndarray:
        """Plot y against x (or x against its index) as "line", "scatter" or "bar"; returns the
        image."""
        if kind not in ("line", "scatter", "bar"):
            raise ValueError('kind must be "line", "scatter" or "bar"')
        xs = np.asarray(x)
        if y is None:
            xs, ys = np.arange(len(xs)), xs
        else:
            ys = np.asarray(y)
        figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
        if kind == "line":
            axes.plot(xs, ys)
        elif kind == "scatter":
            axes.scatter(xs, ys)
        else:
            axes.bar(xs, ys)
        axes.set_title(title)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        figure.tight_layout()
        return _render(figure)

    @staticmethod
    def scene_graph(objects, camera_to_world=None, near: float = 1.0, margin: float = 0.05):
        """A networkx MultiDiGraph of Box3D objects: nodes are labels (attributes center, size); an
        edge a -> b with attribute `relation` says "a <relation> b" as seen from the camera (4x4
        camera-to-world, identity = the reconstruction's first camera). Relations: left_of,
        right_of, above, below, in_front_of (nearer the camera), behind, near (centres closer than
        `near` m). Each edge also has `distance` (centre to centre, m). Differences smaller than
        `margin` m give no relation."""
        import networkx as nx  # loaded on first use: keeps kernel start fast

        world_to_camera = Geometry.invert(
            np.eye(4) if camera_to_world is None else camera_to_world
        )
        graph = nx.MultiDiGraph()
        centers = {}
        for obj in objects:
            centers[obj.label] = Geometry.transform(
                np.asarray(obj.center, dtype=np.float64), world_to_camera
            )
            graph.add_node(obj.label, center=np.asarray(obj.center), size=np.asarray(obj.size))
        labels = list(centers)
        for a in labels:
            for b in labels:
                if a == b:
                    continue
                dx, dy, dz = centers[a] - centers[b]
                distance = float(np.linalg.norm(centers[a] - centers[b]))
                relations = []
                relations += ["left_of"] if dx < -margin else ["right_of"] if dx > margin else []
                relations += ["above"] if dy < -margin else ["below"] if dy > margin else []
                relations += ["in_front_of"] if dz < -margin else ["behind"] if dz > margin else []
                relations += ["near"] if distance < near else []
                for relation in relations:
                    graph.add_edge(a, b, relation=relation, distance=distance)
        return graph

    @staticmethod
    def relations(graph) -> list[str]:
        """The scene graph's edges as sentences, e.g. "chair left_of table (1.20 m)"."""
        return [
            f"{a} {d['relation']} {b} ({d['distance']:.2f} m)"
            for a, b, d in graph.edges(data=True)
        ]

    @staticmethod
    def draw(graph, title: str = "") -> np.ndarray:
        """Draw a (scene) graph with edge labels; returns the image."""
        import networkx as nx

        figure, axes = plt.subplots(figsize=(6, 6), dpi=100)
        layout = nx.circular_layout(graph)
        nx.draw_networkx(graph, layout, ax=axes, node_color="#9ecae1", font_size=9)
        labels: dict[tuple[str, str], list[str]] = {}
        for a, b, data in graph.edges(data=True):
            labels.setdefault((a, b), []).append(data.get("relation", ""))
        nx.draw_networkx_edge_labels(
            graph, layout, {k: ", ".join(v) for k, v in labels.items()}, ax=axes, font_size=7
        )
        axes.set_title(title)
        axes.axis("off")
        return _render(figure)
