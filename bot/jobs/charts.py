"""The managers' weekly trend chart: customers at risk and churned, and retention, as a PNG.

Drawn with matplotlib's Agg backend (no display needed). Labels are English in every locale:
the chart is an image, and a server's matplotlib rarely has a Japanese font to draw them with.
"""

from __future__ import annotations

import io

import matplotlib
import numpy as np

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from crm_core.analytics.stored import KpiPoint


def render_trend_png(points: list[KpiPoint]) -> bytes:
    """At-risk and churned counts (left axis) and retention (right axis) over the given days."""
    days = np.array([p.snapshot_date for p in points], dtype="datetime64[D]")
    figure, counts = plt.subplots(figsize=(8, 4), dpi=100)
    try:
        counts.plot(days, [p.at_risk for p in points], marker="o", label="at risk", color="#e76f51")
        counts.plot(days, [p.churned for p in points], marker="o", label="churned", color="#6c757d")
        counts.set_ylabel("customers")
        counts.set_ylim(bottom=0)
        rates = counts.twinx()
        retention = [float("nan") if p.retention_rate is None else 100 * p.retention_rate for p in points]
        rates.plot(days, retention, marker="s", label="retention %", color="#2a9d8f")
        rates.set_ylabel("retention %")
        rates.set_ylim(0, 100)
        lines = counts.get_legend_handles_labels()
        more = rates.get_legend_handles_labels()
        counts.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left")
        counts.set_title("Churn risk and retention")
        figure.autofmt_xdate()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)
