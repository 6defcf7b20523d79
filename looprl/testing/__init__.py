"""What the tests, the benchmarks and users' own tests import: a tiny model, fakes and toy envs.

    from looprl.testing import build_tiny_model, ScriptedPolicy, StepsEnv, DigitsEnv

* `looprl.testing.model`: `build_tiny_model(folder)`, a tiny Qwen2-architecture causal LM with a
  locally trained byte-level BPE tokenizer and a ChatML template (`build_tokenizer`,
  `tiny_model_config`, `CHATML_TEMPLATE`, `SPECIAL_TOKENS`); no model hub needed.
* `looprl.testing.fakes`: `CharTokenizer`, `ScriptedPolicy` (a PolicyBackend), `ScriptedChat` (a
  ChatBackend), `default_script`: a policy with no model.
* `looprl.testing.envs`: `DigitsEnv` (registered as env "toy": reply with digits only, the learning
  test's env) and `StepsEnv` (take n steps, then complete: the collector tests' env).
* `looprl.testing.faults`: `FaultPlan`, `FaultyEnv` (env steps that raise, hang or lose their sandbox
  worker on purpose) and `ChatServer` (an OpenAI-compatible server that answers 500 or goes away).
* `looprl.testing.samplers`: `reference_logprobs` (the transformers model's logprobs of sampled tokens)
  and `random_lora_adapter` (a LoRA that changes the model): what a sampler backend is checked against.

Each name imports its module on first use, so `import looprl.testing` loads neither torch nor the
world. `DigitsEnv` and its helpers are defined with the other built-in envs (looprl/env/toy.py, the
registered "toy" env, which production code uses) and re-exported here for tests.
"""

from __future__ import annotations

from looprl.utils.lazy import lazy_exports

_MODULES = {
    "looprl.testing.model": ("CHATML_TEMPLATE", "SPECIAL_TOKENS", "build_tiny_model", "build_tokenizer", "tiny_model_config"),
    "looprl.testing.fakes": ("CharTokenizer", "ScriptedChat", "ScriptedPolicy", "default_script"),
    "looprl.testing.envs": ("DigitsEnv", "StepsEnv", "TOY_TASKS_DEFAULT", "digit_score", "load_toy_tasks"),
    "looprl.testing.faults": ("ChatServer", "FaultPlan", "FaultyEnv"),
    "looprl.testing.samplers": ("random_lora_adapter", "reference_logprobs"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_HOME)

__getattr__, __dir__ = lazy_exports(__name__, _HOME)
