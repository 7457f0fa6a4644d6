"""The search: a bump hunt with sliding signal regions over mjj (``gbi search``).

For every window of a :class:`WindowGrid` the CATHODE chain runs on that window's own
sidebands (:mod:`gbi.search.window`): a conditional flow ``p(x | mjj)``, generated SR
background, a k-fold data-vs-generated classifier and a cut, and the model-independent
pyhf fit with its sideband control channel (:mod:`gbi.workspace.counting`), giving the local p0 and
significance, the number of signal events passing with its 68% interval, and the 95% CL
upper limits. :mod:`gbi.search.significance` turns the local significances into a global
one (look-elsewhere effect over overlapping windows). The windows are tasks on the
iterative, futures or dask executor (:mod:`gbi.search.tasks`); :func:`run_search` writes
each window as it finishes, resumes an interrupted scan and writes ``search.json``
(schema ``search-result-1.0``), the plots and a Markdown table.

Modules: ``windows`` (grid, sidebands), ``config`` (settings, result identity),
``window`` (one window; its fit is :mod:`gbi.workspace.counting`), ``significance`` (global),
``tasks`` (executors), ``result`` (typed results), ``outputs`` (plots, table), ``run``.
"""

from __future__ import annotations

from gbi.search.config import WindowConfig
from gbi.search.result import SearchResult, WindowResult
from gbi.search.run import run_search
from gbi.search.significance import global_significance, overlap_correlation
from gbi.search.window import run_window
from gbi.search.windows import Window, WindowGrid

__all__ = [
    "SearchResult",
    "Window",
    "WindowConfig",
    "WindowGrid",
    "WindowResult",
    "global_significance",
    "overlap_correlation",
    "run_search",
    "run_window",
]
