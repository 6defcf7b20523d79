"""The trainer: the iteration loop (trainer.py), the update step (update.py), the methods as
`Method` values (methods/), rollout buffers (batch.py), checkpoints (checkpoint.py), the task
sampler (sampler.py), metrics logging (logger.py), SFT-GT data (sft_data.py) and sharding over
several processes with FSDP (distributed.py, docs/scaling.md).

    from looprl.training import Trainer
    Trainer(load_config(TrainConfig, "configs/tiny-cpu.yaml"), resume=False).train()

Imports are lazy so `import looprl.training` stays light.
"""

from __future__ import annotations

__all__ = ["Trainer", "run_update", "get_method", "METHODS"]


def __getattr__(name):
    if name == "Trainer":
        from looprl.training.trainer import Trainer

        return Trainer
    if name == "run_update":
        from looprl.training.update import run_update

        return run_update
    if name in ("get_method", "METHODS"):
        from looprl.training import methods

        return getattr(methods, name)
    raise AttributeError(name)
