"""Training metrics out: metrics.jsonl (one object per iteration, docs/run-layout.md), TensorBoard
event files (default), Weights & Biases (optional), and a progress line with an ETA (a rich bar on a
terminal, plain periodic lines in a log: looprl.utils.progress).

Metric keys are namespaced and defined once in docs/metrics.md ("## Training metrics").
`metrics.jsonl` is rewritten atomically from the full history on every iteration, so after a resume
it never holds iterations the checkpoint does not know about.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from looprl.utils.io import atomic_write_text


class MetricsLogger:
    def __init__(
        self,
        run_dir: str | Path,
        *,
        tensorboard: bool = True,
        wandb: bool = False,
        wandb_project: str = "looprl",
        config: dict[str, Any] | None = None,
        total_iterations: int = 0,
        progress: bool = True,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.history: list[dict[str, Any]] = []
        self._tb = None
        self._wandb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.run_dir / "tb"))
        if wandb:
            try:
                import wandb as wandb_lib
            except ImportError:
                raise RuntimeError("logging.wandb is true but wandb is not installed; `pip install wandb` or set logging.wandb=false") from None
            self._wandb = wandb_lib.init(project=wandb_project, dir=str(self.run_dir), config=config or {}, resume="allow")
        self._progress = None
        if progress:  # a bar on a terminal, plain periodic lines in a log (looprl.utils.progress)
            from looprl.utils.progress import StageProgress

            self._progress = StageProgress("train", total_iterations, unit="iterations", eta=True).start()

    def restore(self, history: list[dict[str, Any]]) -> None:
        self.history = [dict(h) for h in history]
        if self._progress is not None and self.history:
            self._progress.update(self.history[-1]["iteration"])

    def log(self, iteration: int, metrics: dict[str, Any]) -> None:
        row = {"iteration": iteration, "time": time.time(), **metrics}
        self.history.append(row)
        atomic_write_text(self.run_dir / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in self.history))
        scalars = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and "/" in k}
        if self._tb is not None:
            for k, v in scalars.items():
                self._tb.add_scalar(k, v, iteration)
            self._tb.flush()
        if self._wandb is not None:
            self._wandb.log(scalars, step=iteration)
        if self._progress is not None:
            info = f"reward {metrics.get('rollout/reward_mean', 0):.3f}  loss {metrics.get('loss/policy', 0):+.4f}"
            self._progress.update(iteration, info)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()
