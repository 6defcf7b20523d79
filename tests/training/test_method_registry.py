"""The method registry (looprl/training/methods/facts.py): every method's facts, the config checks
derived from them, the data sources' behaviour, and PPO's loss pinned through the Method shape."""

import subprocess
import sys
from types import SimpleNamespace

import pytest

from looprl.config import FIXED_DATA_METHODS, METHODS, ConfigError, TrainConfig, TrainerConfig, load_config
from looprl.training.methods import facts, get_method
from looprl.training.methods.facts import BaseModelSweep, GroundTruthChats, PolicyRollouts

CRITIC_SETTINGS = {"value_coef_start", "value_coef_end", "value_coef_iterations", "critic_warmup_iterations", "gae_gamma", "gae_lambda", "value_hidden_size"}
# name: (where its data comes from, the trainer settings only it reads)
EXPECTED = {
    "loop": (PolicyRollouts, set()),
    "loop-turn": (PolicyRollouts, set()),
    "loop-bandit": (PolicyRollouts, set()),
    "loop-rwnorm": (PolicyRollouts, set()),
    "rloo": (PolicyRollouts, set()),
    "grpo": (PolicyRollouts, set()),
    "grpo-kl": (PolicyRollouts, {"kl_coef"}),
    "ppo": (PolicyRollouts, CRITIC_SETTINGS),
    "sft-gt": (GroundTruthChats, {"sft_read_docs"}),
    "rft": (BaseModelSweep, set()),
    "ei": (PolicyRollouts, set()),
}


def test_every_methods_facts():
    assert list(facts.METHODS) == list(EXPECTED) == list(METHODS)  # the CLI's names and order come from the registry
    for name, (source, settings) in EXPECTED.items():
        m = facts.METHODS[name]
        assert type(m.data) is source and {s.name for s in m.settings} == settings, name
        assert m.data.fixed == (source is not PolicyRollouts), name
        assert m.requires == ((facts.Positive("kl_coef", m.requires[0].why),) if name == "grpo-kl" else ()), name
    assert facts.METHODS["rft"].data.temperatures == (0.4, 0.7, 1.0)  # the sweep of the paper's RFT
    assert FIXED_DATA_METHODS == ("sft-gt", "rft")
    # dynamic sampling (looprl/training/dynamic_sampling.py) applies where a flat group's advantages are all 0
    assert [n for n, m in facts.METHODS.items() if m.group_relative] == ["loop", "loop-turn", "loop-bandit", "loop-rwnorm", "rloo", "grpo", "grpo-kl"]


def test_every_registered_method_is_built_from_its_own_facts():
    from looprl.training.methods import _built

    built = _built()
    assert list(built) == list(facts.METHODS)
    for name, method in built.items():
        assert method.facts is facts.METHODS[name] and get_method(name) is method
    assert [n for n, m in built.items() if m.critic is not None] == ["ppo"]
    assert [n for n, m in built.items() if m.needs_ref_logprobs] == ["grpo-kl"]


def test_every_declared_setting_is_a_trainer_field_with_a_default_that_passes():
    for name, (readers, _off) in facts.method_settings().items():
        assert name in TrainerConfig.model_fields, name
        assert readers and all(r in facts.METHODS for r in readers)
    for name in METHODS:  # a method's own checks accept the defaults (a run config lists every field)
        assert TrainerConfig(method=name).method == name


@pytest.mark.parametrize("setting", sorted(facts.method_settings()))
def test_a_setting_of_another_method_is_rejected_by_name(setting):
    readers, _ = facts.method_settings()[setting]
    field = TrainerConfig.model_fields[setting]
    d = field.default  # a changed value within the field's range, and not the setting's `off`
    changed = (not d) if isinstance(d, bool) else d + 1 if isinstance(d, int) else d / 2
    for method in METHODS:
        if method in readers:
            assert getattr(TrainerConfig(method=method, **{setting: changed}), setting) == changed
            continue
        with pytest.raises(ValueError) as err:
            TrainerConfig(method=method, **{setting: changed})
        owners = " / ".join(repr(r) for r in readers)
        assert f"trainer.{setting}={changed!r} only applies to method {owners} (method is {method!r}, which does not read it); remove it" in str(err.value)


def test_grpo_kl_requires_a_kl_weight_above_zero_with_the_message_users_get():
    with pytest.raises(ConfigError) as err:
        load_config(TrainConfig, None, ["trainer.method=grpo-kl", "trainer.kl_coef=0"])
    assert "trainer.kl_coef=0 with method 'grpo-kl': a KL term of weight 0 is method 'grpo'; use that, or a kl_coef > 0" in str(err.value)
    assert load_config(TrainConfig, None, ["trainer.kl_coef=0", "trainer.method=grpo"]).trainer.kl_coef == 0  # 0 is the others' "off"


def test_an_unknown_method_is_rejected_with_the_allowed_names():
    with pytest.raises(ConfigError) as err:
        load_config(TrainConfig, None, ["trainer.method=dpo"])
    assert "trainer.method" in str(err.value) and "'loop', 'loop-turn'" in str(err.value) and "'ei'" in str(err.value)


def test_the_schema_and_the_registry_import_without_torch():
    code = "import sys, looprl.config, looprl.training.methods; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


class _Collector:
    """Records what a data source asks for."""

    def __init__(self, early_stop):
        self.cfg = SimpleNamespace(rollout=SimpleNamespace(early_stop=early_stop))
        self.calls = []

    def sample(self, task_ids, *, group_prefix, early_stop, temperature=None, base_model=False):
        self.calls.append(("sample", list(task_ids), group_prefix, early_stop, temperature, base_model))
        return [f"{group_prefix}{t}" for t in task_ids]

    def ground_truth(self, task_ids):
        self.calls.append(("ground_truth", list(task_ids)))
        return [f"gt/{t}" for t in task_ids]


def test_each_data_source_gathers_its_own_way():
    c = _Collector(early_stop=True)
    assert PolicyRollouts().collect(c, ["a", "b"], 3) == ["it3/a", "it3/b"]
    assert c.calls == [("sample", ["a", "b"], "it3/", True, None, False)]  # the current policy, as the config says

    c = _Collector(early_stop=True)
    assert BaseModelSweep((0.4, 1.0)).collect(c, ["a"], 1) == ["rft0.4/a", "rft1.0/a"]
    assert c.calls == [("sample", ["a"], "rft0.4/", False, 0.4, True), ("sample", ["a"], "rft1.0/", False, 1.0, True)]  # every rollout

    c = _Collector(early_stop=True)
    assert GroundTruthChats().collect(c, ["a"], 1) == ["gt/a"] and c.calls == [("ground_truth", ["a"])]


# ---------------------------------------------------------------- PPO's loss, pinned

# loss/policy of three PPO updates (the first a critic warm-up) in the setting below, as computed before
# the critic became a part of the Method shape (then a MethodRuntime whose loss replaced the method's):
# the same script on commit 2476fa0 (method.runtime, global seed 0 before the policy) printed these
PPO_LOSSES = (0.014622350132412976, -0.65588553622365, -0.652615413069725)


def test_ppo_loss_is_unchanged_and_is_the_papers_composition(tiny_model_dir):
    import torch
    from conftest import synthetic_trajectories

    from looprl.algorithms import ppo_clip_loss_per_token_advantage, value_loss
    from looprl.backends.hf import HFBackend
    from looprl.config import LoraConfig
    from looprl.training.batch import make_batch
    from looprl.training.update import run_update

    torch.manual_seed(0)  # LoRA's A is drawn from the global RNG: other tests must not move it
    policy = HFBackend(str(tiny_model_dir), lora=LoraConfig(r=4, alpha=8), device="cpu", seed=0)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # move the adapter off its zero B so the ratios and clipping are exercised
        for p in policy.trainable_parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    method = get_method("ppo")
    # autocast off: PPO_LOSSES are fp32 numbers
    trainer = TrainerConfig(method="ppo", micro_batch_size=2, minibatch_size=4, value_hidden_size=16, critic_warmup_iterations=1, autocast="off")
    cfg = TrainConfig(trainer=trainer)
    torch.manual_seed(5)
    critic = method.critic(policy, cfg)
    opt = torch.optim.AdamW(policy.trainable_parameters() + critic.parameters(), lr=1e-3, weight_decay=0.01)
    shuffle = torch.Generator().manual_seed(0)
    losses = []
    for iteration in (1, 2, 3):
        trajs = synthetic_trajectories(8, seed=iteration, groups=2)
        batch = make_batch(trajs, method.advantages(torch.tensor([t.reward for t in trajs]), [t.group_id for t in trajs]), policy.pad_token_id)
        metrics = run_update(policy, opt, method, batch, cfg.trainer, shuffle, critic, iteration)
        assert metrics["ppo/critic_warmup"] == float(iteration == 1)
        losses.append(metrics["loss/policy"])
        # the objective of one micro-batch is exactly the clipped policy loss on the critic's per-token
        # advantages + c_v * the value loss of the head on the detached hidden states (the critic's alone in warm-up)
        micro = batch.select(torch.arange(2))
        with torch.no_grad():
            logp_new, hidden = policy.logprobs_and_hidden(micro.input_ids, micro.attention_mask, grad=False)
            got = method.objective(logp_new, hidden, micro, cfg.trainer, critic)
            v = critic.coef * value_loss(critic.head(hidden.float()), micro.extras["returns"], micro.mask)
            p = ppo_clip_loss_per_token_advantage(logp_new, micro.logp_old, micro.extras["advantages_t"], micro.mask, eps=cfg.trainer.clip_eps)
        assert torch.equal(got, v if iteration == 1 else p + v)
    assert losses == pytest.approx(PPO_LOSSES, rel=1e-6, abs=1e-9)
