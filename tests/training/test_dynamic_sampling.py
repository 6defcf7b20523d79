"""Dynamic sampling (looprl/training/dynamic_sampling.py): the accounting of groups and rollouts, the bound,
the config's refusals, exact resume, and that the default path is the paper's, unchanged."""

import json
from pathlib import Path

import pytest
import torch

from looprl.config import ConfigError, TrainConfig, load_config
from looprl.rollout import collect
from looprl.training.dynamic_sampling import collect_with_signal, has_signal
from looprl.training.trainer import Trainer
from looprl.trajectory import FinishReason, Trajectory

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.yaml"
SMALL = ("trainer.iterations=3", "trainer.tasks_per_iteration=2", "trainer.rollouts_per_task=3", "rollout.concurrency=1", "trainer.minibatch_size=6")


def _cfg(model_dir, run_dir, *extra):
    overrides = [f"model.name_or_path={model_dir}", f"run_dir={run_dir}", "logging.tensorboard=false", "trainer.eval_every=0"]
    return load_config(TrainConfig, RECIPE, [*overrides, *extra])


def _traj(task, reward, k, prefix="it1/", infra=False):
    return Trajectory(
        task_id=task,
        messages=[],
        reward=reward,
        group_id=f"{prefix}{task}",
        sample_index=k,
        finish_reason=FinishReason.SAMPLER_ERROR if infra else FinishReason.TERMINATED,
    )


def _scripted(rewards):
    """collect(task_ids): K=3 rollouts per task with the rewards `rewards[task]`, counting calls."""
    calls = []

    def collect(task_ids):
        calls.append(list(task_ids))
        return [_traj(t, r, k) for t in task_ids for k, r in enumerate(rewards[t])]

    return collect, calls


def test_has_signal_needs_two_survivors_that_differ():
    assert has_signal([_traj("a", 0.0, 0), _traj("a", 0.5, 1)])
    assert not has_signal([_traj("a", 1.0, 0), _traj("a", 1.0, 1), _traj("a", 1.0, 2)])
    assert not has_signal([_traj("a", 0.0, 0), _traj("a", 1.0, 1, infra=True)])  # one survivor: A = 0
    assert not has_signal([])


def test_accounting_with_known_rewards_per_task():
    rewards = {"a": [0, 0, 0], "b": [0, 1, 0], "c": [1, 1, 1], "d": [0.5, 0.5, 0.5], "e": [0, 0, 1], "f": [1, 0, 1], "g": [0, 1, 1], "h": [0, 0, 0]}
    collect, calls = _scripted(rewards)
    batches = iter([["c", "d", "e"], ["f", "g", "h"], ["a", "b", "c"]])
    got = collect_with_signal(["a", "b", "c"], lambda: next(batches), collect, n_groups=3, max_extra_batches=5)
    # batch 0: b has signal; batch 1: e; batch 2: f and g, of which f fills the third place; the bound is not reached
    assert calls == [["a", "b", "c"], ["c", "d", "e"], ["f", "g", "h"]]
    assert list(dict.fromkeys(r.group_id for r in got.rollouts)) == ["it1/b", "it1/e/b1", "it1/f/b2"]
    assert [r.task_id for r in got.rollouts] == ["b"] * 3 + ["e"] * 3 + ["f"] * 3  # draw order
    assert {r.task_id for r in got.filtered} == {"a", "c", "d", "g", "h"} and len(got.filtered) == 18
    assert got.metrics == {
        "dynamic/batches": 3.0,
        "dynamic/groups_sampled": 9.0,
        "dynamic/groups_with_signal": 4.0,
        "dynamic/groups_kept": 3.0,
        "dynamic/groups_missing": 0.0,
        "dynamic/rollouts_spent": 27.0,
        "dynamic/reward_mean_sampled": pytest.approx(sum(sum(rewards[t]) for t in "abccdefgh") / 27),
    }


def test_first_batch_with_signal_everywhere_draws_nothing_more():
    collect, calls = _scripted({"a": [0, 1, 0], "b": [1, 0, 0]})
    got = collect_with_signal(["a", "b"], lambda: pytest.fail("no extra draw expected"), collect, n_groups=2, max_extra_batches=3)
    assert calls == [["a", "b"]] and got.filtered == [] and len(got.rollouts) == 6
    assert got.metrics["dynamic/batches"] == 1.0 and got.metrics["dynamic/rollouts_spent"] == 6.0


def test_flat_groups_stop_at_the_bound_and_say_so(caplog):
    collect, calls = _scripted({"a": [1, 1, 1], "b": [0, 0, 0]})
    got = collect_with_signal(["a", "b"], lambda: ["b", "a"], collect, n_groups=2, max_extra_batches=2)
    assert len(calls) == 3 and got.rollouts == [] and len(got.filtered) == 18
    assert got.metrics["dynamic/groups_missing"] == 2.0 and got.metrics["dynamic/groups_kept"] == 0.0
    assert got.metrics["dynamic/batches"] == 3.0 and got.metrics["dynamic/rollouts_spent"] == 18.0
    assert "0 of 2 groups had signal after 3 batches" in caplog.text


def test_the_config_refuses_what_it_cannot_serve(tiny_model_dir, tmp_path):
    for extra, match in [
        (("trainer.method=sft-gt",), "trains on fixed data"),
        (("trainer.method=ppo",), "does not take its advantage relative"),
        (("trainer.method=ei",), "does not take its advantage relative"),
    ]:
        with pytest.raises(ConfigError, match=match):
            _cfg(tiny_model_dir, tmp_path, "trainer.dynamic_sampling=true", *extra)
    with pytest.raises(ConfigError, match="only applies with trainer.dynamic_sampling=true"):
        _cfg(tiny_model_dir, tmp_path, "trainer.dynamic_sampling_max_batches=5")
    assert _cfg(tiny_model_dir, tmp_path, "trainer.dynamic_sampling=true", "trainer.method=grpo").trainer.dynamic_sampling


# ---------------------------------------------------------------------------------------------------
# in the trainer, on the tiny model: real rollouts, rewards scripted per task
# ---------------------------------------------------------------------------------------------------
def _rewarding(flat_tasks):
    """The real collector, then rewards by task: a task in `flat_tasks` scores 0 on every rollout (a flat
    group); any other scores 1 on its first rollout and 0 on the rest (a group with signal)."""

    def collect_(*args, **kw):
        out = collect(*args, **kw)
        for r in out.trajectories:
            r.reward = 0.0 if r.task_id in flat_tasks else float(r.sample_index == 0)
        return out

    return collect_


def _weights(trainer):
    return [p.detach().clone() for p in trainer.policy.trainable_parameters()]


def test_trainer_keeps_groups_with_signal_and_logs_the_accounting(tiny_model_dir, tmp_path):
    flat = {f"toy_{n}" for n in range(0, 8, 2)}
    cfg = _cfg(tiny_model_dir, tmp_path, *SMALL, "trainer.dynamic_sampling=true", "trainer.dynamic_sampling_max_batches=4")
    trainer = Trainer(cfg, collect_fn=_rewarding(flat), progress=False)
    history = trainer.train()
    for i, h in enumerate(history, start=1):
        assert h["dynamic/groups_kept"] == 2.0 and h["dynamic/groups_missing"] == 0.0
        assert h["rollout/count"] == 6.0 and h["dynamic/rollouts_spent"] == 3 * h["dynamic/groups_sampled"]
        kept = [json.loads(line) for line in (tmp_path / "rollouts" / f"iter_{i:06d}.jsonl").read_text().splitlines()]
        filtered = [json.loads(line) for line in (tmp_path / "rollouts" / f"filtered_{i:06d}.jsonl").read_text().splitlines()]
        assert {r["task_id"] for r in kept}.isdisjoint(flat) and len(kept) == 6
        assert len(kept) + len(filtered) == h["dynamic/rollouts_spent"]
    # the sampler's draws: exactly the tasks the iterations spent rollouts on
    assert trainer.sampler.epoch * 8 + trainer.sampler.position == sum(h["dynamic/batches"] for h in history) * 2


def test_every_group_flat_stops_at_the_bound_and_trains_on_nothing(tiny_model_dir, tmp_path):
    cfg = _cfg(tiny_model_dir, tmp_path, *SMALL, "trainer.iterations=1", "trainer.dynamic_sampling=true", "trainer.dynamic_sampling_max_batches=2")
    trainer = Trainer(cfg, collect_fn=_rewarding({f"toy_{n}" for n in range(8)}), progress=False)
    before = _weights(trainer)
    [h] = trainer.train()
    assert h["dynamic/batches"] == 3.0 and h["dynamic/groups_sampled"] == 6.0 and h["dynamic/rollouts_spent"] == 18.0
    assert h["dynamic/groups_kept"] == 0.0 and h["dynamic/groups_missing"] == 2.0
    assert h["rollout/count"] == 0.0 and h["train/optimizer_steps"] == 0.0
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(trainer)))


def test_default_off_is_the_papers_path_and_on_matches_it_when_every_group_has_signal(tiny_model_dir, tmp_path):
    off = Trainer(_cfg(tiny_model_dir, tmp_path / "off", *SMALL), collect_fn=_rewarding(set()), progress=False)
    on = Trainer(_cfg(tiny_model_dir, tmp_path / "on", *SMALL, "trainer.dynamic_sampling=true"), collect_fn=_rewarding(set()), progress=False)
    h_off, h_on = off.train(), on.train()
    assert not any(k.startswith("dynamic/") for h in h_off for k in h) and not list((tmp_path / "off" / "rollouts").glob("filtered_*"))
    for a, b in zip(h_off, h_on):
        assert b["dynamic/batches"] == 1.0
        same = {k: v for k, v in a.items() if not k.startswith("time/") and k not in ("time", "rollout/tokens_per_s")}
        assert same == {k: b[k] for k in same}  # bit-identical: every training metric, not approximately
    assert all(torch.equal(a, b) for a, b in zip(_weights(off), _weights(on)))


def test_resume_with_dynamic_sampling_matches_an_uninterrupted_run(tiny_model_dir, tmp_path):
    extra = (*SMALL, "trainer.iterations=4", "trainer.dynamic_sampling=true", "trainer.micro_batch_size=2")
    flat = {"toy_1", "toy_4", "toy_6"}
    straight = Trainer(_cfg(tiny_model_dir, tmp_path / "a", *extra), collect_fn=_rewarding(flat), progress=False)
    straight.train()
    first = Trainer(_cfg(tiny_model_dir, tmp_path / "b", *extra), collect_fn=_rewarding(flat), progress=False)
    first.train(stop_after=2)
    resumed = Trainer(_cfg(tiny_model_dir, tmp_path / "b", *extra), collect_fn=_rewarding(flat), resume=True, progress=False)
    assert resumed.iteration == 2
    history = resumed.train()
    assert sum(h["dynamic/batches"] for h in history) > len(history)  # extra batches were drawn along the way
    assert all(torch.equal(a, b) for a, b in zip(_weights(straight), _weights(resumed)))
    assert (resumed.sampler.epoch, resumed.sampler.position) == (straight.sampler.epoch, straight.sampler.position)


def test_the_overlapped_pipeline_oversamples_from_a_reserve_drawn_in_order(tiny_model_dir, tmp_path):
    """At rollout.max_staleness=1 the trainer's thread draws each iteration's first batch and its extra
    batches at once; the sampler thread uses them while groups are flat. The accounting is logged as in
    the synchronous loop, the reserve's size too, and a run stopped and resumed finishes the same way."""
    flat = {f"toy_{n}" for n in range(0, 8, 2)}
    extra = (*SMALL, "trainer.dynamic_sampling=true", "trainer.dynamic_sampling_max_batches=2", "rollout.max_staleness=1")
    first = Trainer(_cfg(tiny_model_dir, tmp_path, *extra), collect_fn=_rewarding(flat), progress=False)
    first.train(stop_after=1)
    trainer = Trainer(_cfg(tiny_model_dir, tmp_path, *extra), collect_fn=_rewarding(flat), resume=True, progress=False)
    history = trainer.train()  # the resumed logger holds iteration 1 too
    assert [h["iteration"] for h in history] == [1, 2, 3]
    for i, h in enumerate(history, start=1):
        assert h["dynamic/tasks_drawn"] == 6.0 and h["dynamic/groups_kept"] + h["dynamic/groups_missing"] == 2.0
        assert h["rollout/count"] == 3 * h["dynamic/groups_kept"] and h["dynamic/rollouts_spent"] == 3 * h["dynamic/groups_sampled"]
        assert h["dynamic/batches"] <= 3.0 and "offpolicy/staleness_mean" in h
        kept = [json.loads(line) for line in (tmp_path / "rollouts" / f"iter_{i:06d}.jsonl").read_text().splitlines()]
        filtered = [json.loads(line) for line in (tmp_path / "rollouts" / f"filtered_{i:06d}.jsonl").read_text().splitlines()]
        assert {r["task_id"] for r in kept}.isdisjoint(flat) and len(kept) + len(filtered) == h["dynamic/rollouts_spent"]
    # three iterations, a reserve of 3 batches of 2 each, used or not: 18 draws from the checkpointed sampler
    assert trainer.sampler.epoch * 8 + trainer.sampler.position == 18
