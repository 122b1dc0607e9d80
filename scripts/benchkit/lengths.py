"""Session length (issue 5): ``show``, resume and append at 1 to 10,000 messages, how appends grow
with the session, and resume of a long session inside a big store."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from benchkit.common import APPENDS, RESUME_LENGTH, progress
from benchkit.inprocess import measure_append, measure_resume_inprocess
from benchkit.pairs import pair_row
from benchkit.procs import run_checked
from benchkit.results import Row, fmt_ms, fmt_n, verdict
from benchkit.terminal import measure_resume_pty, pexpect_available

if TYPE_CHECKING:
    from benchkit.reads import ReadRun
    from benchkit.workspace import Dataset


def _show_row(run: ReadRun, ds: Dataset, scale: str) -> None:
    progress(f"timing show at {scale}")
    sid = ds.ids[0]
    pair = run.pair(ds, ["show", sid], ["logs", "list", "--cid", sid])
    pair_row(
        run.results,
        "`sessions show ID` vs `llm logs list --cid ID`",
        scale,
        pair,
        max_ratio=0.5,
        peer_missing=run.missing,
    )


def _resume_rows(run: ReadRun, ds: Dataset, scale: str, *, is_resume: bool, have_pty: bool) -> None:
    progress(f"resume at {scale}")
    sid = ds.ids[0]
    stats = measure_resume_inprocess(ds.store, sid, max(run.opts.runs, 5))
    run.results.add(
        Row(
            "resume in-process: `SessionService.load` + render of the last messages, ms",
            scale,
            stats.mmm(),
            target="(part of ≤ 300 ms)" if is_resume else "",
        )
    )
    if have_pty:
        stats = measure_resume_pty(run.work, ds.store, sid, run.opts.runs)
        run.results.add(
            Row(
                "resume: `chatcli --resume ID` to its first prompt (pty), ms",
                scale,
                stats.mmm(),
                target="≤ 300 ms" if is_resume else "",
                verdict=verdict(stats.median <= 300.0) if is_resume else "",
            )
        )


def _append_row(run: ReadRun, ds: Dataset, length: int, scale: str) -> float:
    """Appends to a copy of the session; returns their median."""
    progress(f"appending at {scale}")
    scratch = run.work.scratch_copy(ds.store, f"append-{length}")
    stats = measure_append(scratch, ds.ids[0], APPENDS)
    shutil.rmtree(scratch)
    run.results.add(
        Row(
            f"append with the content index (`FileRepository.append_message`, {APPENDS} appends), "
            "min / median / max ms",
            scale,
            f"{stats.mmm()} (p95 {fmt_ms(stats.percentile(95))})",
            target="median ≤ 2 ms",
            verdict=verdict(stats.median <= 2.0),
        )
    )
    return stats.median


def _append_growth_row(run: ReadRun, append_medians: dict[int, float]) -> None:
    if not append_medians:
        return
    small, large = min(append_medians), max(append_medians)
    if large > small:
        growth = append_medians[large] / append_medians[small]
        run.results.add(
            Row(
                f"append cost at {fmt_n(large)} messages vs at {fmt_n(small)} (medians)",
                f"{fmt_n(large)} / {fmt_n(small)}",
                f"{fmt_ms(append_medians[large])} / {fmt_ms(append_medians[small])} ms = {growth:.2f}×",
                target="≤ 1.5 ×" if large >= 10_000 else "",
                verdict=verdict(growth <= 1.5) if large >= 10_000 else "",
            )
        )


def length_rows(run: ReadRun) -> None:
    """At each ``--lengths`` (and the resume target's length): show, resume, append; then how
    the append cost grew from the shortest session to the longest."""
    append_medians: dict[int, float] = {}
    have_pty = pexpect_available()
    if not have_pty:
        run.results.notes.append(
            "pexpect is not installed: resume to first prompt was measured in-process only."
        )
    for length in sorted({*run.opts.lengths, RESUME_LENGTH}):
        ds = run.work.by_length(length, run.peer)
        scale = f"1 session × {fmt_n(length)} msgs"
        if length in run.opts.lengths:
            _show_row(run, ds, scale)
        _resume_rows(run, ds, scale, is_resume=length == RESUME_LENGTH, have_pty=have_pty)
        if length in run.opts.lengths:
            append_medians[length] = _append_row(run, ds, length, scale)
    _append_growth_row(run, append_medians)


def resume_in_store_rows(run: ReadRun) -> None:
    """Resume of the 2,000-message session inside each store size (the REPL refreshes its
    snapshot), in a pty; nothing without pexpect."""
    if not (pexpect_available() and run.opts.sizes):
        return
    long = run.work.by_length(RESUME_LENGTH, run.peer)
    for n in run.opts.sizes:
        progress(f"resume of {fmt_n(RESUME_LENGTH)} messages in a store of {fmt_n(n)} sessions")
        scratch = run.work.scratch_copy(run.work.by_size(n, run.peer).store, f"resume-{n}")
        run_checked(
            [run.chatcli, "sessions", "--sessions-dir", scratch, "import", long.corpus],
            env=run.cenv,
            cwd=run.work.root,
            timeout=run.work.timeout,
        )
        stats = measure_resume_pty(run.work, scratch, long.ids[0], run.opts.runs)
        shutil.rmtree(scratch)
        run.results.add(
            Row(
                f"resume: `chatcli --resume ID` ({fmt_n(RESUME_LENGTH)} msgs) to first prompt (pty), ms",
                f"{fmt_n(n)} + 1 sessions",
                stats.mmm(),
                target="≤ 300 ms",
                verdict=verdict(stats.median <= 300.0),
            )
        )
