"""Process pairs: a chatcli command and its ``llm`` counterpart, timed interleaved, as a table row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from benchkit.common import RSS_RUNS, Cmd
from benchkit.procs import run_rss, run_timed
from benchkit.results import Results, Row, Stats, fmt_mb, verdict
from benchkit.workspace import Workspace


@dataclass(frozen=True, slots=True)
class PairResult:
    """Timings of a chatcli command and, when the peer is there, of its llm counterpart."""

    chatcli: Stats
    chatcli_rss: int
    llm: Stats | None
    llm_rss: int | None

    @property
    def ratio(self) -> float | None:
        """chatcli's median over llm's (None without the peer)."""
        return None if self.llm is None else self.chatcli.median / self.llm.median


def time_pair(
    work: Workspace,
    *,
    chatcli_cmd: Cmd,
    chatcli_env: Mapping[str, str],
    llm_cmd: Cmd | None,
    llm_env: Mapping[str, str] | None,
    runs: int,
) -> PairResult:
    """A warm-up of each, then ``runs`` runs of each, interleaved (the order alternates)."""
    jobs: list[tuple[Cmd, Mapping[str, str]]] = [(chatcli_cmd, chatcli_env)]
    if llm_cmd is not None and llm_env is not None:
        jobs.append((llm_cmd, llm_env))
    samples: list[list[float]] = [[] for _ in jobs]
    for cmd, env in jobs:
        run_timed(cmd, env=env, cwd=work.root, timeout=work.timeout)
    for i in range(runs):
        order = range(len(jobs)) if i % 2 == 0 else reversed(range(len(jobs)))
        for j in order:
            cmd, env = jobs[j]
            samples[j].append(run_timed(cmd, env=env, cwd=work.root, timeout=work.timeout))
    rss = [
        max(run_rss(cmd, env=env, cwd=work.root, timeout=work.timeout) for _ in range(RSS_RUNS))
        for cmd, env in jobs
    ]
    chatcli = Stats(tuple(samples[0]))
    if len(jobs) == 1:
        return PairResult(chatcli, rss[0], None, None)
    return PairResult(chatcli, rss[0], Stats(tuple(samples[1])), rss[1])


def pair_row(
    results: Results,
    what: str,
    scale: str,
    pair: PairResult,
    *,
    max_ratio: float | None,
    peer_missing: str,
) -> None:
    """A table row for a pair, judged against ``max_ratio`` (chatcli/llm of medians)."""
    ratio = pair.ratio
    target = verdict_text = ""
    if max_ratio is not None:
        target = f"≤ {max_ratio:g} × llm"
        verdict_text = "n/a (no peer)" if ratio is None else verdict(ratio <= max_ratio)
    results.add(
        Row(
            what,
            scale,
            pair.chatcli.mmm(),
            pair.llm.mmm() if pair.llm is not None else peer_missing,
            f"{ratio:.2f}" if ratio is not None else "—",
            fmt_mb(pair.chatcli_rss) + (f" / {fmt_mb(pair.llm_rss)}" if pair.llm_rss is not None else ""),
            target,
            verdict_text,
        )
    )
