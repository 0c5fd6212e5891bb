"""Walking an ONNX model's graphs: subgraphs, data-carrying tensors, operators and Loop bounds.

Pure functions over ``onnx`` protobufs; :mod:`vmaf_tiny.guard` turns what they find into checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

__all__ = [
    "DEFAULT_DOMAINS",
    "GraphWalk",
    "all_tensors",
    "const_int",
    "external_info",
    "iter_graphs",
    "parse_model",
]

#: The names of the default ONNX operator domain.
DEFAULT_DOMAINS = frozenset({"", "ai.onnx"})


def parse_model(data: bytes) -> onnx.ModelProto:
    """Parse serialized bytes into a ModelProto (external data is not loaded)."""
    import onnx

    model = onnx.ModelProto()
    model.ParseFromString(data)
    return model


def iter_graphs(
    graph: onnx.GraphProto, depth: int = 0, max_depth: int = 8
) -> Iterator[tuple[onnx.GraphProto, int]]:
    """The graph and its If/Loop subgraphs with their depth (stops past ``max_depth + 1``)."""
    yield graph, depth
    if depth > max_depth:
        return
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from iter_graphs(attr.g, depth + 1, max_depth)
            for g in attr.graphs:
                yield from iter_graphs(g, depth + 1, max_depth)


def all_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every TensorProto that can carry data: initializers, attribute tensors, sparse ones."""
    for graph, _ in iter_graphs(model.graph):
        yield from graph.initializer
        for sp in graph.sparse_initializer:
            yield sp.values
            yield sp.indices
        for node in graph.node:
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield attr.t
                yield from attr.tensors
                if attr.HasField("sparse_tensor"):
                    yield attr.sparse_tensor.values
                    yield attr.sparse_tensor.indices
                for sp in attr.sparse_tensors:
                    yield sp.values
                    yield sp.indices


def external_info(t: onnx.TensorProto) -> dict[str, str]:
    """The key/value pairs of a tensor's ``external_data`` field."""
    return {e.key: e.value for e in t.external_data}


def const_int(t: onnx.TensorProto) -> int | None:
    """The value of a one-element integer tensor, else None."""
    from onnx import numpy_helper

    try:
        arr = numpy_helper.to_array(t)
    except Exception:
        return None
    if arr.size != 1 or arr.dtype.kind not in "iu":
        return None
    return int(arr.reshape(-1)[0])


class GraphWalk:
    """One pass over every node: operators, domains, depth, node count, Loop bounds.

    Args:
        allowed: Allowed operator types (default domain).
        max_depth: Deepest allowed subgraph nesting (main graph = 0).
        max_nodes: Most nodes in all graphs together.
        max_trips: Largest Loop trip count, and of nested trip counts multiplied.
    """

    def __init__(
        self, allowed: frozenset[str], max_depth: int, max_nodes: int, max_trips: int
    ) -> None:
        self.allowed = allowed
        self.max_depth_allowed = max_depth
        self.max_nodes = max_nodes
        self.max_trips = max_trips
        self.op_problems: list[str] = []
        self.loop_problems: list[str] = []
        self.n_nodes = 0
        self.n_loops = 0
        self.max_depth = 0

    def run(self, model: onnx.ModelProto) -> None:
        self._graph(model.graph, 0, {}, 1, "main graph")

    def _graph(
        self,
        graph: onnx.GraphProto,
        depth: int,
        outer: dict[str, onnx.TensorProto],
        trips: int,
        where: str,
    ) -> None:
        from onnx import helper

        if depth > self.max_depth_allowed:
            limit = self.max_depth_allowed
            self.op_problems.append(f"subgraphs nested deeper than {limit} ({where})")
            return
        self.max_depth = max(self.max_depth, depth)
        consts = dict(outer)
        inputs = {i.name for i in graph.input}
        for name in inputs:
            consts.pop(name, None)
        for init in graph.initializer:
            # An initializer that is also a graph input is only a default: callers may override.
            if init.name in inputs:
                consts.pop(init.name, None)
            else:
                consts[init.name] = init
        for node in graph.node:
            self.n_nodes += 1
            if self.n_nodes > self.max_nodes:
                if len(self.op_problems) < 8:
                    self.op_problems.append(f"more than {self.max_nodes} nodes")
                return
            label = f"{node.op_type} node {node.name or '(unnamed)'} in {where}"
            if node.domain not in DEFAULT_DOMAINS:
                self.op_problems.append(f"{label}: operator domain {node.domain!r} not allowed")
            elif node.op_type not in self.allowed:
                self.op_problems.append(f"{label}: operator {node.op_type!r} not allowed")
            inner_trips = trips
            if node.op_type == "Loop" and node.domain in DEFAULT_DOMAINS:
                inner_trips = self._loop(node, consts, trips, label)
            for attr in node.attribute:
                subs = ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
                for sub in subs:
                    self._graph(
                        sub,
                        depth + 1,
                        consts,
                        inner_trips,
                        f"{node.op_type}.{attr.name} of {node.name or '(unnamed)'}",
                    )
            if node.op_type == "Constant" and node.domain in DEFAULT_DOMAINS and node.output:
                value = None
                for attr in node.attribute:
                    if attr.name == "value" and attr.HasField("t"):
                        value = attr.t
                    elif attr.name == "value_int":
                        value = helper.make_tensor("c", 7, [], [attr.i])
                    elif attr.name == "value_ints" and len(attr.ints) == 1:
                        value = helper.make_tensor("c", 7, [1], [attr.ints[0]])
                if value is not None:
                    consts[node.output[0]] = value
                else:
                    consts.pop(node.output[0], None)
            else:
                for out in node.output:
                    consts.pop(out, None)

    def _loop(
        self, node: onnx.NodeProto, consts: dict[str, onnx.TensorProto], trips: int, label: str
    ) -> int:
        self.n_loops += 1
        m_name = node.input[0] if len(node.input) else ""
        if not m_name:
            self.loop_problems.append(f"{label}: no trip count (unbounded Loop)")
            return trips * self.max_trips
        tensor = consts.get(m_name)
        if tensor is None:
            self.loop_problems.append(
                f"{label}: trip count {m_name!r} is not a constant (initializer or Constant node)"
            )
            return trips * self.max_trips
        value = const_int(tensor)
        if value is None or value < 0:
            self.loop_problems.append(f"{label}: trip count {m_name!r} is not a valid integer")
            return trips * self.max_trips
        if value > self.max_trips:
            self.loop_problems.append(f"{label}: trip count {value} exceeds {self.max_trips}")
        elif value * trips > self.max_trips:
            self.loop_problems.append(
                f"{label}: nested trip counts multiply to {value * trips} (> {self.max_trips})"
            )
        return trips * max(value, 1)
