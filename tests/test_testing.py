"""looprl.testing is the one home of the test fixtures; the old re-export shims are gone."""

import subprocess
import sys

import pytest


def test_fixtures_live_in_looprl_testing():
    import looprl.testing as testing
    from looprl.testing import envs, fakes, model

    assert testing.build_tiny_model is model.build_tiny_model and testing.build_tokenizer is model.build_tokenizer
    assert testing.ScriptedPolicy is fakes.ScriptedPolicy and testing.CharTokenizer is fakes.CharTokenizer
    assert testing.DigitsEnv is envs.DigitsEnv and testing.StepsEnv is envs.StepsEnv
    assert set(testing.__all__) <= set(dir(testing))
    with pytest.raises(AttributeError, match="ToyEnv"):
        testing.ToyEnv  # noqa: B018  (two classes had that name; neither has it now)


def test_the_two_toy_envs_have_distinct_names():
    from looprl.testing import DigitsEnv, StepsEnv

    assert DigitsEnv.__name__ == "DigitsEnv" and StepsEnv.__name__ == "StepsEnv"
    # the registered "toy" env lives with the other envs (production code never imports looprl.testing)
    assert DigitsEnv.__module__ == "looprl.env.toy" and StepsEnv.__module__ == "looprl.testing.envs"


def test_the_old_shims_are_gone():
    from looprl.env import toy
    from looprl.testing import DigitsEnv, digit_score, load_toy_tasks

    with pytest.raises(ModuleNotFoundError):
        import looprl.rollout.fakes  # noqa: F401  (the fakes live in looprl.testing only)
    assert not hasattr(toy, "ToyEnv")  # DigitsEnv has one name
    assert toy.DigitsEnv is DigitsEnv and toy.digit_score is digit_score and toy.load_toy_tasks is load_toy_tasks


def test_import_looprl_testing_is_light_and_toy_needs_no_import():
    # a fresh interpreter: `import looprl.testing` loads neither torch nor transformers, and make_env
    # registers "toy" by itself (it used to need `import looprl.env.toy` first)
    code = (
        "import sys, looprl.testing; assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'\n"
        "from looprl.env import make_env, registered_envs\n"
        "assert 'toy' in registered_envs()\n"
        "print(type(make_env('toy', turns=2)).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "DigitsEnv"
