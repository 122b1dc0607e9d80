"""The benchmark harness behind ``scripts/bench.py`` (the entry point; see its docstring).

Modules, by concern:

- :mod:`~benchkit.cli`: the command line; which benchmarks run; where the text goes.
- :mod:`~benchkit.common`: settings, :class:`~benchkit.common.Options`, ``BenchError``, progress.
- :mod:`~benchkit.procs`: running processes: timed, peak RSS, build steps, CPU time.
- :mod:`~benchkit.results`: statistics, table rows, the Markdown table.
- :mod:`~benchkit.workspace`: the work folder and its cached data sets.
- :mod:`~benchkit.peers`: chatcli installed as a user would, the ``llm`` peer, bytecode.
- :mod:`~benchkit.pairs`: a chatcli command and its llm counterpart timed interleaved.
- :mod:`~benchkit.reads`: the full run at each store size (list, search, show, completion).
- :mod:`~benchkit.lengths`: show, resume and append by session length.
- :mod:`~benchkit.inprocess`: completion, append and resume measured in this process.
- :mod:`~benchkit.browser`: the session browser (``--browser-only`` too).
- :mod:`~benchkit.terminal`: measurements in a pseudo-terminal (pexpect).
- :mod:`~benchkit.writes`: ``--writes``: import, ``cp -a``, snapshot refresh (issue 15).
- :mod:`~benchkit.fts_floor`: FTS5 alone on the corpus: the floor under the import.
- :mod:`~benchkit.search`: ``--searches``: the content index's queries.
- :mod:`~benchkit.report`: machine, revision, the full report, replacing one section.
"""
