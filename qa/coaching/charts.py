"""The report's charts: matplotlib figures as inline SVG (text kept as text, DejaVu Sans for Turkish)."""

from __future__ import annotations

import io

from qa.coaching.report import CoachingReport

AGENT_COLOUR, TEAM_COLOUR = "#1f5fa8", "#9a9a9a"


def _figure(width: float, height: float):
    """A figure without pyplot (no GUI backend, no global figure list; ~1 s less to import)."""
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.rcParams.update({"font.family": "DejaVu Sans", "svg.fonttype": "none", "font.size": 9,
                                "svg.hashsalt": "callqa"})
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def _svg(fig, prefix: str, margins: dict[str, float] | None = None) -> str:
    """The figure as inline SVG. With `margins` (fractions of the figure, for charts whose labels are short:
    dates, numbers) it is drawn once; without, twice, to fit the margins to the labels (long item titles)."""
    buf = io.StringIO()
    if margins:
        fig.subplots_adjust(**margins)
        fig.savefig(buf, format="svg", metadata={"Date": None})
    else:
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # inline: drop the XML declaration and doctype
    # ids unique across the charts of one page (matplotlib numbers them from 1 in every figure)
    return (text.replace('id="', f'id="{prefix}-').replace('url(#', f'url(#{prefix}-')
            .replace('href="#', f'href="#{prefix}-'))


def trend_svg(report: CoachingReport, labels: dict[str, str]) -> str | None:
    """Weekly mean score of the subject, and the team's line when there is one."""
    if not report.weeks:
        return None
    fig, ax = _figure(6.4, 2.0)
    x = [w["week"].strftime("%d.%m") for w in report.weeks]
    ax.plot(x, [w["avg"] for w in report.weeks], marker="o", color=AGENT_COLOUR,
            label=report.subject_name or report.subject_id)
    if report.has_team:
        ax.plot(x, [w["team_avg"] for w in report.weeks], marker="s", linestyle="--", color=TEAM_COLOUR,
                label=labels["team_avg"])
    ax.set_ylim(0, 100)
    ax.set_title(labels["chart_trend"])
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right", frameon=False)
    return _svg(fig, "trend", {"left": 0.07, "right": 0.98, "top": 0.86, "bottom": 0.14})


def items_svg(report: CoachingReport, labels: dict[str, str]) -> str | None:
    """Pass rate per item, the subject beside the team."""
    rows = [r for r in report.items if r["pass_rate"] is not None]
    if not rows:
        return None
    fig, ax = _figure(6.4, 0.35 * len(rows) + 0.8)
    y = list(range(len(rows)))
    h = 0.38 if report.has_team else 0.7
    ax.barh([i - (h / 2 if report.has_team else 0) for i in y], [r["pass_rate"] for r in rows], height=h,
            color=AGENT_COLOUR, label=report.subject_name or report.subject_id)
    if report.has_team:
        ax.barh([i + h / 2 for i in y], [r["team_pass_rate"] or 0 for r in rows], height=h, color=TEAM_COLOUR,
                label=labels["team_avg"])
    ax.set_yticks(y, [r["title"] for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_title(labels["chart_items"])
    ax.legend(loc="lower right", frameon=False, fontsize=7)
    # the left margin from the longest title (DejaVu Sans at 9 pt: about 5.6 pt a letter), so it is drawn once
    left = min(0.55, (max(len(r["title"]) for r in rows) * 5.6 + 14) / (6.4 * 72))
    height = 0.35 * len(rows) + 0.8
    return _svg(fig, "items", {"left": left, "right": 0.98, "top": 1 - 0.32 / height, "bottom": 0.42 / height})


def distribution_svg(report: CoachingReport, scores: list[float], labels: dict[str, str]) -> str | None:
    """How many calls scored in each band of 10 points (100 in the last band)."""
    if not scores:
        return None
    fig, ax = _figure(6.4, 1.8)
    ax.hist(scores, bins=list(range(0, 101, 10)), color=AGENT_COLOUR, edgecolor="white")
    ax.set_xlim(0, 100)
    ax.set_xticks(list(range(0, 101, 10)))
    ax.set_ylabel(labels["calls_axis"])
    ax.set_title(labels["chart_dist"])
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _svg(fig, "dist", {"left": 0.08, "right": 0.97, "top": 0.85, "bottom": 0.15})


def sections_svg(report: CoachingReport, labels: dict[str, str]) -> str | None:
    """Weekly mean score per section: one small chart per section, the subject's line against the team's."""
    if not report.weeks or not report.sections:
        return None
    sections = report.sections
    cols = min(len(sections), 2)
    rows = (len(sections) + cols - 1) // cols
    fig = _figure(6.4, 1.9 * rows + 0.4)[0]
    fig.clear()
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True)
    x = [w["week"].strftime("%d.%m") for w in report.weeks]
    for n, sec in enumerate(sections):
        ax = axes[n // cols][n % cols]
        ax.plot(x, [w["sections"].get(sec["id"]) for w in report.weeks], marker="o", markersize=3,
                color=AGENT_COLOUR, label=report.subject_name or report.subject_id)
        if report.has_team:
            ax.plot(x, [w["team_sections"].get(sec["id"]) for w in report.weeks], marker="s", markersize=3,
                    linestyle="--", color=TEAM_COLOUR, label=labels["team_avg"])
        ax.set_ylim(0, 100)
        ax.set_title(sec["title"], fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(labelsize=7)
    for n in range(len(sections), rows * cols):
        axes[n // cols][n % cols].set_visible(False)
    axes[0][0].legend(loc="lower left", frameon=False, fontsize=7)
    fig.suptitle(labels["chart_sections"], fontsize=9)
    return _svg(fig, "sections", {"left": 0.07, "right": 0.99, "top": 1 - 0.45 / (1.9 * rows + 0.4),
                                  "bottom": 0.25 / (1.9 * rows + 0.4), "hspace": 0.55, "wspace": 0.08})


def autofails_svg(report: CoachingReport, labels: dict[str, str]) -> str | None:
    """Auto-failed calls per week (bars) and their share of the week's calls (line, right axis)."""
    if not report.weeks:
        return None
    fig, ax = _figure(6.4, 1.8)
    x = [w["week"].strftime("%d.%m") for w in report.weeks]
    ax.bar(x, [w["auto_failed"] for w in report.weeks], color="#b23b3b", label=labels["auto_failed"])
    ax.set_ylabel(labels["calls_axis"])
    ax.yaxis.get_major_locator().set_params(integer=True)
    share = ax.twinx()
    share.plot(x, [100.0 * w["auto_failed"] / w["calls"] if w["calls"] else None for w in report.weeks],
               color="#444", marker="o", markersize=3, linewidth=1)
    share.set_ylabel("%")
    share.set_ylim(bottom=0)
    ax.set_title(labels["chart_autofails"])
    return _svg(fig, "autofails", {"left": 0.08, "right": 0.93, "top": 0.85, "bottom": 0.15})
