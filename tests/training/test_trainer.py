"""The trainer end to end on the tiny model and the toy env: resume is exact, corrupt checkpoints are
skipped by name, and reward rises under LOOP (the learning test)."""

import json
import logging
from pathlib import Path

import pytest
import torch

from looprl.config import TrainConfig, load_config
from looprl.training.checkpoint import CorruptCheckpoint, load_latest, verify_checkpoint
from looprl.training.trainer import Trainer

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.yaml"


def _cfg(model_dir, run_dir, *extra):
    return load_config(
        TrainConfig, RECIPE, [f"model.name_or_path={model_dir}", f"run_dir={run_dir}", "logging.tensorboard=false", "trainer.eval_every=0", *extra]
    )


def _adapter(trainer):
    return [p.detach().clone() for p in trainer.policy.trainable_parameters()]


def test_resume_after_kill_matches_uninterrupted_run(tiny_model_dir, tmp_path):
    # concurrency 1: episodes are generated one by one, so sampling consumes the RNG in a fixed order
    extra = (
        "trainer.iterations=4",
        "trainer.tasks_per_iteration=2",
        "trainer.rollouts_per_task=3",
        "rollout.concurrency=1",
        "trainer.minibatch_size=4",
        "trainer.micro_batch_size=2",
    )
    straight = Trainer(_cfg(tiny_model_dir, tmp_path / "a", *extra), progress=False)
    straight.train()
    want = _adapter(straight)

    first = Trainer(_cfg(tiny_model_dir, tmp_path / "b", *extra), progress=False)
    first.train(stop_after=2)  # "killed" after iteration 2's checkpoint
    # a half-written iteration-3 checkpoint left by the kill must be ignored
    (tmp_path / "b" / "checkpoints" / "iter_000003").mkdir()
    resumed = Trainer(_cfg(tiny_model_dir, tmp_path / "b", *extra), resume=True, progress=False)
    assert resumed.iteration == 2
    resumed.train()
    for a, b in zip(want, _adapter(resumed)):
        assert torch.equal(a, b)
    rows = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4]


def test_corrupt_checkpoint_is_named_and_previous_used(tiny_model_dir, tmp_path, caplog):
    # autocast off: the fp32 sampler and the fp32 trainer are compared
    trainer = Trainer(_cfg(tiny_model_dir, tmp_path, "trainer.iterations=2", "trainer.tasks_per_iteration=2", "trainer.autocast=off"), progress=False)
    history = trainer.train()
    # sampler (KV-cache generation) and trainer (full forward) agree on the same weights' logprobs
    assert 0.0 <= history[-1]["rollout/sampler_logprob_gap_max"] < 1e-3
    newest = tmp_path / "checkpoints" / "iter_000002"
    weights = next((newest / "adapter").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(CorruptCheckpoint, match="does not match its checksum"):
        verify_checkpoint(newest)
    with caplog.at_level(logging.WARNING):
        path, state = load_latest(tmp_path)
    assert path.name == "iter_000001" and state.iteration == 1
    assert "iter_000002" in caplog.text


@pytest.mark.parametrize("autocast", ["off", "bfloat16"])
def test_loop_learns_the_toy_rule(tiny_model_dir, tmp_path, autocast):
    # bf16 autocast of the trainer's forward passes (fp32 master weights) learns as fp32 does
    cfg = _cfg(tiny_model_dir, tmp_path, "trainer.iterations=24", f"trainer.autocast={autocast}")
    history = Trainer(cfg, progress=False).train()
    rewards = [h["rollout/reward_mean"] for h in history]
    print("reward per iteration:", [round(r, 3) for r in rewards])
    start, end = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    assert start < 0.2, rewards  # a random tiny model rarely writes digits
    assert end > start + 0.4, rewards


def test_rollouts_at_another_temperature_train_that_policy(tiny_model_dir, tmp_path):
    """Sampling at T != 1: the trained policy is softmax(logits / T), so the trainer's "old" logprobs
    are the sampler's (the sampler-gap diagnostic stays at float noise); SFT-GT keeps T = 1."""
    from looprl.training.trainer import build_policy, policy_temperature

    cfg = _cfg(tiny_model_dir, tmp_path / "loop", "trainer.iterations=1", "rollout.sampling.temperature=0.6", "trainer.autocast=off")  # fp32 on both sides
    trainer = Trainer(cfg, progress=False)
    assert trainer.policy.policy_temperature == 0.6
    [metrics] = trainer.train()
    assert metrics["rollout/sampler_logprob_gap_max"] < 1e-3, metrics
    assert policy_temperature(cfg.model_copy(update={"trainer": cfg.trainer.model_copy(update={"method": "sft-gt"})})) == 1.0
    with pytest.raises(ValueError, match="policy_temperature=0.6"):  # a policy built for T=0.6 does not train a T=1 run
        Trainer(_cfg(tiny_model_dir, tmp_path / "t1", "trainer.iterations=1"), policy=build_policy(cfg), progress=False)


def test_rollout_concurrency_caps_neither_the_update_nor_the_samplers_batch(tiny_model_dir, tmp_path):
    """rollout.concurrency bounds the episodes alive at once, nothing else: the update's passes take
    trainer.micro_batch_size rollouts at a time and a generate() call of the transformers sampler as
    many waiting episodes as rollout.generation_batch_size lets in, whatever the concurrency."""
    extra = ("trainer.iterations=1", "trainer.tasks_per_iteration=2", "trainer.rollouts_per_task=3", "trainer.minibatch_size=6", "trainer.micro_batch_size=6")
    # concurrency 2 against an update of 6 at a time: the update's forward passes are not cut to 2
    trainer = Trainer(_cfg(tiny_model_dir, tmp_path / "update", *extra, "rollout.concurrency=2", "rollout.early_stop=false"), progress=False)
    rows, sampled = [], []
    forward, generate = trainer.policy.logprobs_and_hidden, trainer.policy.generate
    trainer.policy.logprobs_and_hidden = lambda input_ids, *a, **kw: rows.append(input_ids.shape[0]) or forward(input_ids, *a, **kw)
    trainer.policy.generate = lambda prompts, sampling: sampled.append(len(prompts)) or generate(prompts, sampling)
    (metrics,) = trainer.train()
    kept = int(metrics["rollout/kept"])
    assert kept > 2 and max(rows) == kept  # the old-logprob pass and the minibatch: every kept rollout in one pass
    assert max(sampled) == 2  # the sampler's batch: the 2 episodes alive
    # concurrency 6, generation_batch_size 4: the sampler's batch is its own setting
    trainer = Trainer(_cfg(tiny_model_dir, tmp_path / "sampler", *extra, "rollout.concurrency=6", "rollout.generation_batch_size=4"), progress=False)
    sampled.clear()
    generate = trainer.policy.generate
    trainer.policy.generate = lambda prompts, sampling: sampled.append(len(prompts)) or generate(prompts, sampling)
    trainer.train()
    assert max(sampled) == 4


def test_closing_the_trainer_closes_the_sampler_it_built_and_only_once(tiny_model_dir, tmp_path, monkeypatch):
    """A trainer owns the sampler it built (an engine's exported files, a server it started): closing the
    trainer closes it, once; the transformers sampler is the policy itself and stays usable."""
    import looprl.training.trainer as trainer_module
    from looprl.testing.fakes import ScriptedPolicy

    built = []
    monkeypatch.setattr(trainer_module, "build_sampling_backend", lambda cfg, policy: built.append(ScriptedPolicy()) or built[-1])
    with Trainer(_cfg(tiny_model_dir, tmp_path / "a"), progress=False) as trainer:
        assert trainer.sampler_backend is built[0] and built[0].closed == 0
    assert built[0].closed == 1 and trainer.sampler_backend is None
    trainer.close()
    assert built[0].closed == 1
    with pytest.raises(RuntimeError, match="was closed .* resume=True to continue"):
        trainer.train()

    monkeypatch.undo()
    own = Trainer(_cfg(tiny_model_dir, tmp_path / "b"), progress=False)
    assert own.sampler_backend is own.policy
    own.close()
    assert own.sampler_backend is None and len(list(own.policy.trainable_parameters())) > 0


def test_train_until_stops_after_the_iteration_that_satisfies_it(tiny_model_dir, tmp_path):
    trainer = Trainer(_cfg(tiny_model_dir, tmp_path, "trainer.iterations=5", "trainer.tasks_per_iteration=2"), progress=False)
    seen = []
    history = trainer.train(until=lambda m: seen.append(m["rollout/count"]) or len(seen) == 2)
    assert trainer.iteration == 2 and len(history) == 2 and seen == [h["rollout/count"] for h in history]
    assert len(trainer.train(stop_after=1)) == 3  # and goes on from there
