"""The benchmark chart: bench/results/latest.svg, each target's throughput against a panel's baseline."""

import math

from report import ratio_stats
from workload import SCENARIOS


def svg_chart(path, results, cells_by_key, comparisons, title):
    """Grouped horizontal bars: throughput of each target relative to a panel's baseline."""
    panels = []
    for panel_title, baseline, members in comparisons:
        groups = []
        for (scenario, conns, keys) in cells_by_key:
            bars = []
            for m in members:
                s = ratio_stats(results, m, baseline, scenario, conns, keys, "rps")
                if s is not None:
                    bars.append((m, s[0]))
            if bars:
                groups.append((f"{SCENARIOS[scenario]}, {conns}c, {keys:,} keys", bars))
        if groups:
            panels.append((panel_title, baseline, groups))
    colors = {"aot-main": "#512bd4", "aot-fwd": "#512bd4", "aot-fwd-single": "#9c8ae6", "go-main": "#00add8", "go-fwd": "#00add8",
              "ceiling": "#9e9e9e", "nginx-fwd": "#009639"}
    bar_h, gap, left, width = 14, 10, 250, 420
    y = 50
    parts = []
    vmax = max([v for _, _, gs in panels for _, bs in gs for _, v in bs] + [1.2])
    scale = width / (math.ceil(vmax * 4) / 4)
    for panel_title, baseline, groups in panels:
        parts.append(f'<text x="10" y="{y}" font-size="14" font-weight="bold">{esc(panel_title)} '
                     f'(throughput ÷ {esc(baseline)}, median of rounds)</text>')
        y += 12
        top = y
        for label, bars in groups:
            parts.append(f'<text x="{left - 8}" y="{y + bar_h * len(bars) / 2 + 4}" font-size="11" text-anchor="end">{esc(label)}</text>')
            for m, v in bars:
                w = v * scale
                c = colors.get(m, "#e67e22")
                parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{c}"/>')
                parts.append(f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 4}" font-size="10">{esc(m)} {v:.2f}×</text>')
                y += bar_h
            y += gap
        x1 = left + scale
        parts.append(f'<line x1="{x1:.1f}" y1="{top}" x2="{x1:.1f}" y2="{y - gap}" stroke="#333" stroke-dasharray="4,3"/>')
        parts.append(f'<text x="{x1 + 2:.1f}" y="{top - 1}" font-size="9" fill="#333">1.0×</text>')
        y += 28
    h = y
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 140}" height="{h}" '
           f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>'
           f'<text x="10" y="22" font-size="16" font-weight="bold">{esc(title)}</text>' + "".join(parts) + "</svg>\n")
    with open(path, "w") as f:
        f.write(svg)


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
