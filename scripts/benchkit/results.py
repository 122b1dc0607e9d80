"""Statistics of repeated measurements, the results table's rows, and the table as Markdown."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from benchkit.common import MB, progress
from benchkit.procs import CpuTime


@dataclass(frozen=True, slots=True)
class Stats:
    """Summary of repeated measurements (milliseconds unless stated)."""

    values: tuple[float, ...]

    @property
    def min(self) -> float:
        """The smallest value."""
        return min(self.values)

    @property
    def median(self) -> float:
        """The median (the mean of the two middle values for an even count)."""
        return statistics.median(self.values)

    @property
    def max(self) -> float:
        """The largest value."""
        return max(self.values)

    def percentile(self, pct: float) -> float:
        """Nearest-rank percentile."""
        ordered = sorted(self.values)
        rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
        return ordered[rank - 1]

    def mmm(self) -> str:
        """``min / median / max``."""
        return f"{fmt_ms(self.min)} / {fmt_ms(self.median)} / {fmt_ms(self.max)}"


def fmt_ms(value: float) -> str:
    """Milliseconds with precision that suits their size."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def fmt_mb(value: float) -> str:
    """Bytes as megabytes (MiB), one decimal."""
    return f"{value / MB:.1f}"


def fmt_n(n: int) -> str:
    """A count with thousands separators."""
    return f"{n:,}"


def median_cpu(samples: Sequence[CpuTime]) -> CpuTime:
    """The sample with the median total (the lower middle one for an even count), so that its
    user and system parts add up to the figure reported."""
    ordered = sorted(samples, key=lambda cpu: cpu.total)
    return ordered[(len(ordered) - 1) // 2]


def fmt_cpu(cpu: CpuTime) -> str:
    """``9.8 core-s (user 8.2 + sys 1.6)``."""
    return f"{cpu.total:.2f} core-s (user {cpu.user:.2f} + sys {cpu.sys:.2f})"


@dataclass(slots=True)
class Row:
    """One line of the results table."""

    what: str
    scale: str
    chatcli: str
    llm: str = ""
    ratio: str = ""
    rss: str = ""
    target: str = ""
    verdict: str = ""


@dataclass(slots=True)
class Results:
    """Everything measured, in table order, plus the context the report needs."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    medians: dict[str, float] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        """Append ``row`` to the table, and show it as a progress line."""
        self.rows.append(row)
        cells = [row.what, row.scale, row.chatcli, row.llm, row.ratio, row.target, row.verdict]
        progress("  " + " | ".join(cell for cell in cells if cell))


def verdict(ok: bool) -> str:
    """A target's result cell."""
    return "met" if ok else "**NOT met**"


HEADERS = (
    "measurement",
    "scale",
    "chatcli (ms: min / median / max)",
    "llm (ms: min / median / max)",
    "chatcli/llm",
    "peak RSS MB chatcli / llm",
    "target (issue 5)",
    "result",
)


def cells(row: Row) -> list[str]:
    """A row's cells, in :data:`HEADERS` order."""
    return [row.what, row.scale, row.chatcli, row.llm, row.ratio, row.rss, row.target, row.verdict]


def table(rows: Sequence[Row]) -> str:
    """A Markdown pipe table, padded so it also reads well in a terminal."""
    matrix = [list(HEADERS), *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in matrix) for i in range(len(HEADERS))]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    out = [line(matrix[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(values) for values in matrix[1:]]
    return "\n".join(out)
