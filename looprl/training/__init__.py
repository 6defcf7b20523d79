"""The trainer: the iteration loop (trainer.py), the update step (update.py), the methods as
`Method` values (methods/), rollout buffers (batch.py), checkpoints (checkpoint.py), the task
sampler (sampler.py), metrics logging (logger.py), SFT-GT data (sft_data.py) and sharding over
several processes with FSDP (distributed.py, docs/scaling.md).

    from looprl.training import Trainer
    Trainer(load_config(TrainConfig, "configs/tiny-cpu.yaml"), resume=False).train()

Imports are lazy so `import looprl.training` stays light.
"""

from __future__ import annotations

from looprl.utils.lazy import lazy_exports

__all__ = ["Trainer", "run_update", "get_method", "METHODS"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Trainer": "looprl.training.trainer",
        "run_update": "looprl.training.update",
        "get_method": "looprl.training.methods",
        "METHODS": "looprl.training.methods",
    },
)
