"""The toy env registered as "toy" is `looprl.testing.DigitsEnv` (looprl/testing/envs.py); this
module re-exports its old names (`ToyEnv` is `DigitsEnv`). Importing it is no longer needed to
register "toy": `make_env` registers the built-in envs itself."""

from looprl.testing.envs import DigitsEnv, DigitsEnv as ToyEnv, digit_score, load_toy_tasks

__all__ = ["DigitsEnv", "ToyEnv", "digit_score", "load_toy_tasks"]
