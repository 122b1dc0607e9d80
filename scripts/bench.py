#!/usr/bin/env python3
"""Benchmark harness for chatcli, side by side with simonw's ``llm`` (issue 5).

Data is built through the public interface only: ``<shared>/bench/make_corpus.py`` writes a
deterministic JSON Lines corpus, ``chatcli sessions --sessions-dir DIR import corpus.jsonl`` (the
real command line, in a subprocess) loads it, and ``<shared>/bench/load_llm.py`` loads the same
corpus into ``llm``'s log database. Built data sets are cached under the work folder, keyed by
their size, so re-runs only measure.

Measured:

* whole processes (a warm-up, then ``--runs`` runs of each tool, interleaved; min / median /
  max wall time and peak RSS): ``sessions list``, ``sessions search``, ``sessions show`` and
  ``--version`` against their ``llm logs …`` counterparts, with the ratio chatcli/llm of medians;
* in this process (``import chatcli``): completion per keystroke over the REPL's sessions snapshot,
  ``FileRepository.append_message`` at several session lengths, resume (load + render of the
  last messages), and ``chatcli --resume ID`` to its first prompt in a pseudo-terminal.

One table is printed and the same figures are written to ``BENCHMARKS.md`` with the machine, the
date and the command used, each next to the issue's target.

usage: .venv/bin/python scripts/bench.py [--sizes 1000,10000] [--big] [--quick] [--runs 7] ...

The code lives in the package ``scripts/benchkit/`` (one module per concern: its ``__init__``
lists them); this file is only the entry point.
"""

from __future__ import annotations

import sys

from benchkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
