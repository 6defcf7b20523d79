"""Overlapped sampling (rollout.max_staleness, looprl/training/pipeline.py): staleness 0 is the
synchronous trainer unchanged, the sampler thread keeps its staleness bound, the first minibatch of
stale rollouts has the decoupled loss computed by hand, and an overlapped run stopped after an
iteration resumes and finishes."""

import math
import threading
from pathlib import Path

import pytest
import torch

from looprl.config import ConfigError, TrainConfig, load_config
from looprl.training import trainer as trainer_module
from looprl.training.pipeline import RolloutPipeline, sampler_cores, sampler_shares_cores, split_threads, staleness_metrics
from looprl.training.trainer import Trainer
from looprl.trajectory import Trajectory, read_jsonl

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.yaml"
# concurrency 1: episodes are generated one by one, so sampling consumes the RNG in a fixed order
SMALL = ("trainer.tasks_per_iteration=2", "trainer.rollouts_per_task=3", "rollout.concurrency=1", "trainer.minibatch_size=4", "trainer.micro_batch_size=2")

# The synchronous trainer's results in this setting (3 iterations of SMALL), printed by the same script on
# commit 21311ee, before rollout.max_staleness existed: loss/policy per iteration (None: no update, every
# reward 0), rollout/reward_mean, and the sum of the squared adapter weights.
# Re-recorded (autocast off) when the update began computing lm_head only at the loss's tokens and cutting
# micro-batches from length-sorted rows: the same sums in another order moved iteration 3's loss by 3.5e-10
# and the adapter's squared norm by 4e-7 (was 0.005973998922854662 and 61.68863841126206); rewards unchanged.
SYNC_LOSSES = (0.0008422490209341049, None, 0.005973999272100627)
SYNC_REWARDS = (0.026470588235294117, 0.0, 0.0350564468211527)
SYNC_ADAPTER_SQ = 61.688638063244525


def _cfg(model_dir, run_dir, *extra):
    return load_config(
        TrainConfig, RECIPE, [f"model.name_or_path={model_dir}", f"run_dir={run_dir}", "logging.tensorboard=false", "trainer.eval_every=0", *extra]
    )


def _adapter_sq(trainer):
    return float(sum(p.detach().double().pow(2).sum() for p in trainer.policy.trainable_parameters()))


def test_staleness_zero_is_the_synchronous_trainer(tiny_model_dir, tmp_path):
    # autocast off: SYNC_* are the fp32 trainer's numbers
    trainer = Trainer(_cfg(tiny_model_dir, tmp_path, "trainer.iterations=3", "rollout.max_staleness=0", "trainer.autocast=off", *SMALL), progress=False)
    history = trainer.train()
    assert trainer.pipeline is None and trainer.sampler_backend is trainer.policy  # no thread, no copy
    assert tuple(r.get("loss/policy") for r in history) == SYNC_LOSSES
    assert tuple(r["rollout/reward_mean"] for r in history) == SYNC_REWARDS
    assert _adapter_sq(trainer) == SYNC_ADAPTER_SQ
    assert not any(k.startswith("offpolicy/") for r in history for k in r)
    for i in (1, 2, 3):  # every rollout names its behaviour policy: the current one
        assert {t.policy_version for t in read_jsonl(tmp_path / "rollouts" / f"iter_{i:06d}.jsonl")} == {i - 1}
    for key in ("time/sample_s", "time/old_logprob_s", "time/forward_backward_s", "time/optimizer_s", "time/publish_s", "time/checkpoint_s"):
        assert history[0][key] >= 0.0
    _assert_collection_split(history)


def _assert_collection_split(history):
    """Collection splits into sampling (a sampler call in flight) and the rest (env work): both there,
    sampling part of it, the two adding up to it."""
    for row in history:
        assert 0.0 < row["time/generate_s"] <= row["time/sample_s"]
        assert row["time/env_s"] > 0.0 and row["time/generate_s"] + row["time/env_s"] == pytest.approx(row["time/sample_s"])


class _FakeBackend:
    def __init__(self):
        self.loaded = []

    def load_adapter(self, path):
        self.loaded.append(path)


@pytest.mark.parametrize("staleness", [1, 2])
def test_sampler_thread_keeps_the_staleness_bound_and_overlaps(tmp_path, staleness):
    backend, started, published = _FakeBackend(), {}, [0]

    def collect(task_ids, iteration):
        started[iteration] = published[0]  # the newest version published when this collection began
        return [Trajectory(task_id=t, messages=[]) for t in task_ids], 0.5 * iteration  # and the seconds a sampler call ran

    def wait_for(iteration):
        for _ in range(500):
            if iteration in started:
                return True
            threading.Event().wait(0.01)
        return False

    draws = iter(range(100))
    pipe = RolloutPipeline(backend, collect, lambda: [f"t{next(draws)}"], max_staleness=staleness, version=0, last_iteration=6)
    for i in range(1, 7):
        batch, _ = pipe.take(i)
        assert [r.task_id for r in batch.rollouts] == [f"t{i - 1}"]  # tasks drawn in the synchronous order
        assert batch.generate_s == 0.5 * i  # the collection's sampler seconds travel with its batch
        assert i - 1 - staleness <= batch.version <= i - 1 and {r.policy_version for r in batch.rollouts} == {batch.version}
        # while iteration i "updates" (version i not published yet), the thread samples iteration i+1 ...
        if i < 6:
            assert wait_for(i + 1) and i - staleness <= started[i + 1] <= i - 1
        # ... but nothing that would lag more than `staleness` versions
        assert all(j - 1 - staleness <= v for j, v in started.items())
        if i + 1 + staleness <= 6:
            assert i + 1 + staleness not in started
        (tmp_path / f"v{i:06d}").mkdir()
        published[0] = i
        pipe.publish(i, tmp_path / f"v{i:06d}")
    pipe.close()
    assert pipe.pending() == {} and max(started) == 6  # nothing sampled past the run's end
    assert backend.loaded and backend.loaded == sorted(backend.loaded)  # newer adapters only, between collections


def test_staleness_metrics_and_thread_split():
    rollouts = [Trajectory(task_id="a", messages=[], policy_version=v) for v in (3, 3, 2, 1)]
    assert staleness_metrics(rollouts, 3, 2) == {
        "offpolicy/staleness_mean": 0.75,
        "offpolicy/staleness_0": 0.5,
        "offpolicy/staleness_1": 0.25,
        "offpolicy/staleness_2": 0.25,
    }
    assert split_threads(2, shares_cores=True) == (1, 1)
    assert split_threads(1, shares_cores=True) == (1, 1)
    assert split_threads(16, shares_cores=False) == (16, 0)


@pytest.mark.parametrize(
    ("rollout", "cuda", "shares"),
    [
        ({"backend": "transformers"}, True, True),
        ({"backend": "openvino", "sampling": {"temperature": 1.0}}, False, True),
        ({"backend": "vllm"}, False, True),  # a CPU server started here
        ({"backend": "vllm", "vllm_url": "http://127.0.0.1:8000"}, False, True),  # a shared one on this machine
        ({"backend": "vllm", "vllm_url": "http://localhost:8000"}, True, False),  # on this machine's GPU
        ({"backend": "vllm", "vllm_url": "http://10.0.0.7:8000"}, False, False),  # elsewhere
    ],
)
def test_which_samplers_share_the_trainers_cores(rollout, cuda, shares):
    from looprl.config import RolloutConfig

    assert sampler_shares_cores(RolloutConfig(**rollout), cuda) is shares
    assert sampler_cores([0, 1]) == [1] and sampler_cores([0]) == [0] and sampler_cores([0, 1, 2, 3, 4]) == [3, 4]


def test_config_refuses_staleness_without_a_behaviour_loss(tiny_model_dir, tmp_path):
    with pytest.raises(ConfigError, match="only loop, loop-rwnorm have a loss"):
        _cfg(tiny_model_dir, tmp_path, "trainer.method=loop-turn", "rollout.max_staleness=1")
    with pytest.raises(ConfigError, match="behaviour_weight_cap=3.0 only applies with rollout.max_staleness > 0"):
        _cfg(tiny_model_dir, tmp_path, "trainer.behaviour_weight_cap=3")
    with pytest.raises(ConfigError, match="max_staleness"):
        _cfg(tiny_model_dir, tmp_path, "rollout.max_staleness=5")


def test_staleness_one_first_minibatch_loss_on_stale_samples(tiny_model_dir, tmp_path, monkeypatch):
    # one epoch, one minibatch: loss/policy is the first (only) minibatch's loss
    extra = ("trainer.iterations=2", "rollout.max_staleness=1", "trainer.behaviour_weight_cap=1.02", "trainer.epochs=1", "trainer.minibatch_size=64")
    extra += ("trainer.autocast=off",)  # the reference below recomputes pi_prox in fp32
    seen = {}
    real_update = trainer_module.run_update

    def spy(policy, optimizer, method, batch, cfg, shuffle, critic, iteration, dist):
        with torch.no_grad():  # the pre-update policy pi_prox, computed here independently of the update
            seen[iteration] = (policy.token_logprobs(batch.input_ids, batch.attention_mask, grad=False), batch.logp_behaviour.clone(), batch)
        return real_update(policy, optimizer, method, batch, cfg, shuffle, critic, iteration, dist)

    monkeypatch.setattr(trainer_module, "run_update", spy)
    trainer = Trainer(
        _cfg(tiny_model_dir, tmp_path, *extra, "trainer.tasks_per_iteration=8", "trainer.rollouts_per_task=3", "rollout.concurrency=1"), progress=False
    )
    history = trainer.train()
    assert history[0]["offpolicy/staleness_0"] == 1.0 and history[1]["offpolicy/staleness_1"] == 1.0
    stale = list(read_jsonl(tmp_path / "rollouts" / "iter_000002.jsonl"))
    assert {t.policy_version for t in stale} == {0}  # sampled while iteration 1 updated version 0
    assert history[0]["train/optimizer_steps"] == 1 and history[1]["train/optimizer_steps"] == 1

    logp_prox, logp_mu, batch = seen[2]
    by_tokens = {tuple(t.token_ids): t.logprobs for t in stale}
    cap, eps = 1.02, trainer.cfg.trainer.clip_eps
    per_traj, rhos = [], []
    for b in range(len(batch)):
        n = int(batch.attention_mask[b].sum())
        # mu is exactly what the version-0 sampler returned with these tokens
        assert logp_mu[b, :n].tolist() == pytest.approx(by_tokens[tuple(batch.input_ids[b, :n].tolist())], rel=1e-6)
        a = float(batch.advantages[b])
        terms = []
        for t in range(n):
            if batch.mask[b, t]:
                rho = math.exp(float(logp_prox[b, t] - logp_mu[b, t]))
                rhos.append(rho)
                # first step: pi_new = pi_prox, r = 1, so l = -min(rho, C) * min(A, g(A))
                terms.append(-min(rho, cap) * min(a, (1 + eps) * a if a >= 0 else a / (1 + eps)))
        per_traj.append(sum(terms) / len(terms))
    assert history[1]["loss/policy"] == pytest.approx(sum(per_traj) / len(per_traj), rel=1e-5)
    assert history[1]["offpolicy/ratio_max"] == pytest.approx(max(rhos), rel=1e-5)
    assert history[1]["offpolicy/truncated_fraction"] == pytest.approx(sum(r > cap for r in rhos) / len(rhos))
    assert history[1]["offpolicy/truncated_fraction"] > 0  # the stale samples are off-policy enough to be truncated


def test_staleness_one_samples_each_iteration_with_a_fixed_version(tiny_model_dir, tmp_path):
    # at s = 1 iteration j is sampled with version max(j - 2, 0) whatever the timing: two runs agree
    runs = []
    for name in ("a", "b"):
        trainer = Trainer(_cfg(tiny_model_dir, tmp_path / name, "trainer.iterations=4", "rollout.max_staleness=1", *SMALL), progress=False)
        history = trainer.train()
        _assert_collection_split(history)  # timed in the sampler thread, carried with its batch
        runs.append(([p.detach().clone() for p in trainer.policy.trainable_parameters()], [r.get("loss/policy") for r in history]))
        for i in range(1, 5):
            assert {t.policy_version for t in read_jsonl(tmp_path / name / "rollouts" / f"iter_{i:06d}.jsonl")} == {max(i - 2, 0)}
    assert runs[0][1] == runs[1][1] and all(torch.equal(a, b) for a, b in zip(runs[0][0], runs[1][0]))


def test_staleness_one_run_stopped_after_an_iteration_resumes_and_finishes(tiny_model_dir, tmp_path):
    extra = ("trainer.iterations=4", "rollout.max_staleness=1", *SMALL)
    first = Trainer(_cfg(tiny_model_dir, tmp_path, *extra), progress=False)
    one_iteration = first.train_one_iteration

    def killed_in_the_third() -> dict:
        if first.iteration == 2:  # after iteration 2's checkpoint, with iteration 3 sampled ahead
            raise RuntimeError("killed during iteration 3")
        return one_iteration()

    first.train_one_iteration = killed_in_the_third
    with pytest.raises(RuntimeError, match="killed during iteration 3"):
        first.train()
    resumed = Trainer(_cfg(tiny_model_dir, tmp_path, *extra), resume=True, progress=False)
    in_flight = resumed._in_flight  # restored from iteration 2's checkpoint
    assert resumed.iteration == 2 and 3 in in_flight and len(in_flight[3]) == 2
    history = resumed.train()
    assert [r["iteration"] for r in history] == [1, 2, 3, 4]
    third = list(read_jsonl(tmp_path / "rollouts" / "iter_000003.jsonl"))
    assert sorted({t.task_id for t in third}) == sorted(in_flight[3])  # the tasks drawn before the stop
    assert {t.policy_version for t in third} == {2}  # sampled again with the restored adapter
    assert not list((tmp_path / "checkpoints").glob("*.tmp*"))


def test_a_stopping_segment_samples_nothing_past_its_last_iteration(tiny_model_dir, tmp_path):
    """train(stop_after=n) (bench_learning_curve's segments): the sampler thread stops at the segment's end
    instead of sampling the next iteration, which the stop would drop and the next segment sample again."""
    extra = ("trainer.iterations=4", "rollout.max_staleness=1", *SMALL)
    first = Trainer(_cfg(tiny_model_dir, tmp_path, *extra), progress=False)
    first.train(stop_after=2)
    assert first.iteration == 2 and first._in_flight == {}
    assert not (tmp_path / "rollouts" / "iter_000003.jsonl").exists()
    resumed = Trainer(_cfg(tiny_model_dir, tmp_path, *extra), resume=True, progress=False)
    assert [r["iteration"] for r in resumed.train()] == [1, 2, 3, 4]


def test_an_overlapped_vllm_server_started_here_gets_its_own_cores(tiny_model_dir, tmp_path, monkeypatch):
    from looprl.backends import vllm
    from looprl.build import build_sampling_backend

    seen = {}
    monkeypatch.setattr(vllm, "VLLMBackend", lambda name, **kwargs: seen.update(kwargs) or "backend")
    monkeypatch.setattr(vllm, "_cpu_only", lambda: True)
    build_sampling_backend(_cfg(tiny_model_dir, tmp_path, "rollout.backend=vllm", "rollout.max_staleness=1"), policy=None)
    assert seen["server_kwargs"]["env"] == {"VLLM_CPU_OMP_THREADS_BIND": ",".join(map(str, sampler_cores()))}
    seen.clear()
    build_sampling_backend(_cfg(tiny_model_dir, tmp_path, "rollout.backend=vllm"), policy=None)  # synchronous: all cores, as before
    assert "env" not in seen["server_kwargs"]


def test_rollouts_written_before_policy_versions_still_load():
    old = Trajectory(task_id="a", messages=[]).to_dict()
    del old["policy_version"]
    assert Trajectory.from_dict(old).policy_version == -1


def test_staleness_one_run_killed_with_sigkill_resumes_and_finishes(tiny_model_dir, tmp_path):
    """`looprl train` in a subprocess, killed with SIGKILL once a checkpoint is written (the sampler
    thread then collects ahead), then `looprl train --resume` finishes two more iterations."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from looprl.training.checkpoint import load_latest

    root, run = RECIPE.parents[1], tmp_path / "run"
    args = [sys.executable, "-m", "looprl", "train", "--config", str(RECIPE), "--no-progress"]
    for s in (f"model.name_or_path={tiny_model_dir}", f"run_dir={run}", *SMALL, "trainer.iterations=30", "rollout.max_staleness=1", "trainer.eval_every=0"):
        args += ["--set", s]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen(args, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not (run / "checkpoints" / "latest").is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    _, state = load_latest(run)
    assert state.iteration >= 1 and state.extra["in_flight"]  # the sampler thread had drawn the next iteration's tasks
    want = state.iteration + 2
    resume = [sys.executable, "-m", "looprl", "train", "--resume", str(run), "--no-progress", "--set", f"trainer.iterations={want}"]
    done = subprocess.run(resume, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    _, final = load_latest(run)
    assert final.iteration == want
    versions = {t.policy_version for t in read_jsonl(run / "rollouts" / f"iter_{want:06d}.jsonl")}
    assert versions <= {want - 2, want - 1}  # within the staleness bound after the resume


def test_an_error_in_the_sampler_thread_reaches_the_trainer_as_itself():
    """A collection that fails in the sampler thread is raised by take() as the very exception (so
    `looprl train` handles a RolloutError or SamplerUnavailable as in the synchronous loop), with a note
    saying where it came from."""
    from looprl.rollout import RolloutError
    from looprl.testing import ScriptedPolicy
    from looprl.training.pipeline import RolloutPipeline

    def collect(task_ids, iteration):
        raise RolloutError(f"iteration {iteration}: every rollout failed")

    pipe = RolloutPipeline(ScriptedPolicy(), collect, lambda: ["t"], max_staleness=1, version=0, last_iteration=2)
    try:
        with pytest.raises(RolloutError, match="iteration 1: every rollout failed") as info:
            pipe.take(1)
        assert info.value.__notes__ == ["raised in the sampler thread, collecting ahead of iteration 1"]
    finally:
        pipe.close(wait=True)
