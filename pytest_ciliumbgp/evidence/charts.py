"""A bar chart of how many flows the router sent to each next hop, one bar per hash policy and
node side by side, so policy 0 (all of one client's flows on one node) and policy 1 (spread)
read at a glance.

matplotlib draws it with its Agg renderer into a PNG in memory: no display, no pyplot, no
global backend switch. It is imported when a chart is drawn, not when the plugin loads.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import allure
import allure_commons

#: the colours of successive policies (matplotlib's default cycle, readable in grey too)
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")


def flow_counts_png(counts: Mapping[str, Mapping[str, int]], nodes: Sequence[str],
                    title: str) -> bytes:
    """The chart as PNG bytes. ``counts`` maps a policy's label (``hash=L3 (0)``) to flows per
    node; every node of ``nodes`` gets a bar for every policy, zero when it got no flow."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2.0 + 1.6 * max(len(nodes), 1), 3.6), dpi=100,
                    layout="constrained")
    axes = figure.subplots()
    width = 0.8 / max(len(counts), 1)
    for index, (policy, per_node) in enumerate(counts.items()):
        positions = [n + (index - (len(counts) - 1) / 2) * width for n in range(len(nodes))]
        bars = axes.bar(positions, [per_node.get(node, 0) for node in nodes], width,
                        label=f"{policy}: {sum(per_node.values())} flows",
                        color=_COLOURS[index % len(_COLOURS)])
        axes.bar_label(bars, fontsize=8)
    axes.set_xticks(range(len(nodes)), list(nodes))
    axes.set_ylabel("flows")
    axes.set_xlabel("next hop (node)")
    axes.set_title(title, fontsize=10)
    axes.margins(y=0.15)
    axes.legend(fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def attach_flow_counts(name: str, counts: Mapping[str, Mapping[str, int]],
                       nodes: Sequence[str], title: str) -> None:
    """Attach the chart to the current test or step. Without --alluredir nothing records
    attachments, and the chart is not drawn (importing matplotlib alone takes a second)."""
    if not allure_commons.plugin_manager.hook.attach_data.get_hookimpls():
        return
    allure.attach(flow_counts_png(counts, nodes, title), name=name,
                  attachment_type=allure.attachment_type.PNG)
