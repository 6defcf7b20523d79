"""Moved to `looprl.testing` (fakes in looprl/testing/fakes.py, envs in looprl/testing/envs.py);
this module re-exports the old names for code that imports them from here (benchmarks/bench_rollout.py).
`ToyEnv` here is `looprl.testing.StepsEnv` (the other toy env, `DigitsEnv`, is the registered "toy")."""

from looprl.testing.envs import StepsEnv, StepsEnv as ToyEnv
from looprl.testing.fakes import IM_END, IM_START, PAD, CharTokenizer, ScriptedChat, ScriptedPolicy, default_script

__all__ = ["CharTokenizer", "IM_END", "IM_START", "PAD", "ScriptedChat", "ScriptedPolicy", "StepsEnv", "ToyEnv", "default_script"]
