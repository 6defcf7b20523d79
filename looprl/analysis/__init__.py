"""Measuring what an agent does: TGC/SGC, behaviour metrics, run comparison and HTML reports.

    from looprl.analysis import tgc, sgc, summarize, behaviour_metrics, load_run, compare_runs

Every metric is defined once, in docs/metrics.md. Nothing here imports torch or transformers.
"""

from looprl.analysis.behaviour import BEHAVIOUR_METRICS, behaviour_metrics, rollout_behaviour
from looprl.analysis.compare import compare_runs
from looprl.analysis.metrics import goal_completion, sgc, summarize, tgc
from looprl.analysis.runs import Run, RunError, load_run

__all__ = [
    "tgc",
    "sgc",
    "goal_completion",
    "summarize",
    "behaviour_metrics",
    "rollout_behaviour",
    "BEHAVIOUR_METRICS",
    "compare_runs",
    "load_run",
    "Run",
    "RunError",
]
