"""The update step on synthetic trajectories with the tiny model: accumulation equivalence, guards."""

import torch

from looprl.algorithms import leave_one_out_advantages
from looprl.config import TrainerConfig
from looprl.training.batch import make_batch
from looprl.training.methods import get_method
from looprl.training.update import accumulate_gradients, compute_logprobs, run_update


def _batch(policy, n=6, seed=0):
    from conftest import synthetic_trajectories

    trajs = synthetic_trajectories(n, seed=seed)
    adv = leave_one_out_advantages(torch.tensor([t.reward for t in trajs]), [t.group_id for t in trajs])
    batch = make_batch(trajs, adv, policy.pad_token_id)
    return batch


def _grads(policy):
    return [p.grad.detach().clone() for p in policy.trainable_parameters()]


def _perturb(policy, seed=1):
    # a LoRA B of zeros makes ratios exactly 1; move the adapter so clipping and ratios are exercised
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in policy.trainable_parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))


def test_make_batch_aligns_tokens(tiny_policy, make_trajectories):
    trajs = make_trajectories(3)
    batch = make_batch(trajs, torch.zeros(3), tiny_policy.pad_token_id)
    for i, t in enumerate(trajs):
        n = len(t.token_ids)
        assert batch.input_ids[i, :n].tolist() == t.token_ids
        assert batch.mask[i, :n].tolist() == [False] + t.trainable[1:]
        assert not batch.mask[i, n:].any() and batch.attention_mask[i, n:].sum() == 0
    sub = batch.select([2])
    assert sub.input_ids.shape[1] == len(trajs[2].token_ids)


def test_one_minibatch_equals_two_accumulated_halves(tiny_policy):
    _perturb(tiny_policy)
    batch = _batch(tiny_policy)
    noise = torch.randn(batch.input_ids.shape, generator=torch.Generator().manual_seed(0))
    batch.logp_old = compute_logprobs(tiny_policy, batch, 6, 1024) + 0.05 * noise * batch.mask
    for name in ("loop", "loop-turn", "loop-bandit", "rloo", "ei"):
        method = get_method(name)
        grads = {}
        for micro in (6, 3, 1):
            tiny_policy.model.zero_grad(set_to_none=True)
            cfg = TrainerConfig(micro_batch_size=micro, logprob_chunk_size=16, autocast="off")  # the invariance is exact in fp32
            stats = accumulate_gradients(tiny_policy, method, batch, cfg)
            grads[micro] = (_grads(tiny_policy), stats["loss"])
        full, loss_full = grads[6]
        assert any(float(g.abs().sum()) > 0 for g in full), name
        for micro in (3, 1):
            part, loss_part = grads[micro]
            assert abs(loss_full - loss_part) < 1e-5, (name, micro)
            for a, b in zip(full, part):
                torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    tiny_policy.model.zero_grad(set_to_none=True)


def test_run_update_changes_adapter_and_reports(tiny_policy):
    batch = _batch(tiny_policy, n=8, seed=3)
    before = [p.detach().clone() for p in tiny_policy.trainable_parameters()]
    opt = torch.optim.AdamW(tiny_policy.trainable_parameters(), lr=1e-3)
    cfg = TrainerConfig(minibatch_size=4, micro_batch_size=2, epochs=2)
    metrics = run_update(tiny_policy, opt, get_method("loop"), batch, cfg, torch.Generator().manual_seed(0))
    assert metrics["train/optimizer_steps"] == 4.0 and metrics["train/stopped_early"] == 0.0
    assert 0.0 <= metrics["ppo/clip_fraction"] <= 1.0
    assert metrics["ppo/kl_k1"] != 0.0  # second-epoch steps see a moved policy
    assert any(not torch.equal(a, b) for a, b in zip(before, tiny_policy.trainable_parameters()))


def test_kl_guard_stops_the_iteration(tiny_policy):
    batch = _batch(tiny_policy, n=8, seed=4)
    opt = torch.optim.AdamW(tiny_policy.trainable_parameters(), lr=0.5)  # huge steps push KL up
    cfg = TrainerConfig(minibatch_size=2, micro_batch_size=2, epochs=3, kl_guard=1e-6)
    metrics = run_update(tiny_policy, opt, get_method("loop"), batch, cfg, torch.Generator().manual_seed(0))
    assert metrics["train/stopped_early"] == 1.0
    assert 1 <= metrics["train/optimizer_steps"] < 12


def test_nan_loss_skips_the_step(tiny_policy):
    batch = _batch(tiny_policy, n=4, seed=5)
    batch.advantages[:] = float("nan")
    before = [p.detach().clone() for p in tiny_policy.trainable_parameters()]
    opt = torch.optim.AdamW(tiny_policy.trainable_parameters(), lr=1e-2)
    metrics = run_update(tiny_policy, opt, get_method("loop"), batch, TrainerConfig(minibatch_size=2), torch.Generator())
    assert metrics["train/stopped_early"] == 2.0 and metrics["train/optimizer_steps"] == 0.0
    assert all(torch.equal(a, b) for a, b in zip(before, tiny_policy.trainable_parameters()))


def test_grpo_kl_uses_adapter_disabled_reference(tiny_policy):
    _perturb(tiny_policy, seed=9)
    batch = _batch(tiny_policy, n=4, seed=6)
    ref = compute_logprobs(tiny_policy, batch, 4, 1024, reference=True)
    cur = compute_logprobs(tiny_policy, batch, 4, 1024)
    assert not torch.allclose(ref[batch.mask], cur[batch.mask])
    opt = torch.optim.AdamW(tiny_policy.trainable_parameters(), lr=1e-4)
    # autocast off: compared with the fp32 reference computed above
    metrics = run_update(tiny_policy, opt, get_method("grpo-kl"), batch, TrainerConfig(autocast="off"), torch.Generator())
    assert torch.allclose(batch.logp_ref, ref) and metrics["train/optimizer_steps"] == 1.0


def _shifted_old_logprobs(policy, batch, log_ratio):
    """Old logprobs that put every trainable token's ratio at exp(log_ratio) under the current policy."""
    return compute_logprobs(policy, batch, len(batch), 1024) - log_ratio * batch.mask


def test_ppo_clip_fraction_is_measured_on_the_critics_advantages(tiny_policy):
    # PPO's advantages are per token, in batch.extras; it has none per trajectory (0), on which
    # nothing ever counts as clipped
    from looprl.config import TrainConfig
    from looprl.training.methods.ppo import ValueCritic

    batch = _batch(tiny_policy, n=4, seed=7)
    batch.advantages = torch.zeros(len(batch))  # what PPO's trajectory-level estimator gives
    batch.logp_old = _shifted_old_logprobs(tiny_policy, batch, 0.5)  # ratio e^0.5 = 1.65 > 1 + eps
    batch.extras = {"advantages_t": batch.mask.float(), "returns": batch.mask.float()}
    # autocast off: the ratios are set exactly against fp32 logprobs
    cfg = TrainConfig(trainer=TrainerConfig(method="ppo", value_hidden_size=8, critic_warmup_iterations=0, autocast="off"))
    critic = ValueCritic(tiny_policy, cfg)  # no warm-up: the policy trains from the first iteration
    stats = accumulate_gradients(tiny_policy, get_method("ppo"), batch, cfg.trainer, critic)
    tiny_policy.model.zero_grad(set_to_none=True)
    assert stats["clip_fraction"] > 0.99


def test_grpo_clip_fraction_uses_grpos_own_bound(tiny_policy):
    # ratio 0.82 with A < 0 and eps = 0.2: inside GRPO's [0.8, 1.2] (not clipped), outside LOOP's
    # [1/1.2, 1.2] = [0.833, 1.2] (clipped)
    batch = _batch(tiny_policy, n=4, seed=8)
    batch.advantages = -torch.ones(len(batch))
    batch.logp_old = _shifted_old_logprobs(tiny_policy, batch, float(torch.log(torch.tensor(0.82))))
    cfg = TrainerConfig(clip_eps=0.2, autocast="off")  # the ratios are set exactly against fp32 logprobs
    grpo = accumulate_gradients(tiny_policy, get_method("grpo"), batch, cfg)
    loop = accumulate_gradients(tiny_policy, get_method("loop"), batch, cfg)
    tiny_policy.model.zero_grad(set_to_none=True)
    assert grpo["clip_fraction"] == 0.0 and loop["clip_fraction"] > 0.99


def test_loop_gradient_is_the_same_with_logprobs_only_at_the_loss_positions(tiny_policy):
    _perturb(tiny_policy, seed=4)
    batch = _batch(tiny_policy, n=4, seed=11)
    noise = torch.randn(batch.input_ids.shape, generator=torch.Generator().manual_seed(2))
    batch.logp_old = compute_logprobs(tiny_policy, batch, 4, 1024) + 0.05 * batch.mask * noise
    method, cfg = get_method("loop"), TrainerConfig(autocast="off")
    grads = []
    for positions in (None, batch.mask):
        tiny_policy.model.zero_grad(set_to_none=True)
        logp_new, hidden = tiny_policy.logprobs_and_hidden(batch.input_ids, batch.attention_mask, grad=True, chunk_size=16, positions=positions)
        method.objective(logp_new, hidden, batch, cfg, None).backward()
        grads.append(_grads(tiny_policy))
    tiny_policy.model.zero_grad(set_to_none=True)
    assert any(float(g.abs().sum()) > 0 for g in grads[0])
    for full, picked in zip(*grads):
        torch.testing.assert_close(picked, full, rtol=1e-4, atol=1e-6)  # as the accumulation test: fp32 sums in another order


def test_micro_batches_of_uneven_lengths_are_cut_by_length_same_gradient_less_padding(tiny_policy, monkeypatch):
    from conftest import synthetic_trajectories

    _perturb(tiny_policy, seed=5)
    trajs = synthetic_trajectories(6, seed=21)
    for i, t in enumerate(trajs):  # lengths alternate short / long, so cutting in order pairs a short row with a long one
        if i % 2:
            t.token_ids, t.trainable, t.turn_ids, t.logprobs = t.token_ids * 3, t.trainable * 3, t.turn_ids * 3, t.logprobs * 3
    adv = leave_one_out_advantages(torch.tensor([t.reward for t in trajs]), [t.group_id for t in trajs])
    batch = make_batch(trajs, adv, tiny_policy.pad_token_id)
    lengths = batch.attention_mask.sum(dim=1)
    batch.logp_old = compute_logprobs(tiny_policy, batch, 1, 1024, autocast="off")
    seen: list[int] = []
    forward = tiny_policy.logprobs_and_hidden

    def counting(input_ids, *args, **kwargs):
        seen.append(input_ids.numel())
        return forward(input_ids, *args, **kwargs)

    monkeypatch.setattr(tiny_policy, "logprobs_and_hidden", counting)
    grads = {}
    for micro in (6, 2):
        tiny_policy.model.zero_grad(set_to_none=True)
        seen.clear()
        stats = accumulate_gradients(tiny_policy, get_method("loop"), batch, TrainerConfig(micro_batch_size=micro, autocast="off"))
        grads[micro] = (_grads(tiny_policy), stats["loss"], sum(seen))
    tiny_policy.model.zero_grad(set_to_none=True)
    in_order = sum(2 * int(lengths[i : i + 2].max()) for i in range(0, 6, 2))  # what cutting rows 0-1, 2-3, 4-5 would pad to
    assert grads[2][2] < in_order and grads[2][2] == sum(2 * int(p.max()) for p in lengths.sort().values.split(2))
    assert abs(grads[6][1] - grads[2][1]) < 1e-5
    for a, b in zip(grads[6][0], grads[2][0]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_bf16_autocast_old_logprobs_and_training_forward_agree(tiny_policy):
    # the no-grad old-logprob pass and the grad pass run the same bf16 matmuls: the first ratio is 1
    _perturb(tiny_policy, seed=6)
    batch = _batch(tiny_policy, n=4, seed=12)
    cfg = TrainerConfig(micro_batch_size=4, autocast="bfloat16")
    batch.logp_old = compute_logprobs(tiny_policy, batch, 4, cfg.logprob_chunk_size, autocast="bfloat16")
    fp32 = compute_logprobs(tiny_policy, batch, 4, cfg.logprob_chunk_size, autocast="off")
    assert not torch.equal(batch.logp_old, fp32)
    stats = accumulate_gradients(tiny_policy, get_method("loop"), batch, cfg)
    tiny_policy.model.zero_grad(set_to_none=True)
    assert stats["kl_k1"] == 0.0 and stats["clip_fraction"] == 0.0


def test_run_update_reports_the_autocast_it_ran_under(tiny_policy):
    batch = _batch(tiny_policy, n=4, seed=13)
    opt = torch.optim.AdamW(tiny_policy.trainable_parameters(), lr=1e-4)
    for setting, want in (("bfloat16", 1.0), ("off", 0.0)):
        metrics = run_update(tiny_policy, opt, get_method("loop"), batch, TrainerConfig(autocast=setting), torch.Generator().manual_seed(0))
        assert metrics["train/autocast_bf16"] == want
