"""Dynamic sampling: fill the iteration with groups whose rewards differ (an option, off by default).

A group of K rollouts of one task whose rewards are all equal carries no signal for a group-relative
advantage: LOOP's leave-one-out advantage A_k = R_k - mean_{i != k} R_i is 0 for every member, so the
buffer filter drops the whole group and the K rollouts were spent for nothing. DAPO (Yu et al. 2025,
arXiv 2503.14476, section 3.2 "dynamic sampling") and verl's `filter_groups` oversample instead: draw
another batch of tasks while the iteration holds fewer than `tasks_per_iteration` groups with signal.
This module does the same, with verl's bound (its `max_num_gen_batches`):

* every batch is `tasks_per_iteration` tasks from the trainer's checkpointed TaskSampler, so a resumed
  run draws the very same tasks; at most `max_extra_batches` batches beyond the first are drawn;
* a group has signal when at least two of its members survived the infrastructure (looprl/rollout/
  faults.py) and their rewards are not all equal;
* groups with signal are kept in the order they were drawn (task order within a batch), the first
  `tasks_per_iteration` of them; groups of a later batch b get `/b<b>` after their group id, so a task
  drawn twice in one iteration makes two groups;
* when the bound is reached with fewer, the iteration trains on what it kept and `dynamic/groups_missing`
  says how many were short (a warning says so too);
* in the overlapped pipeline (`rollout.max_staleness` > 0) the trainer's thread draws the first batch
  and every extra batch the bound allows at once, and the sampler thread uses them in order while
  groups are flat: unused batches are skipped, not returned (`dynamic/tasks_drawn`; Trainer._collect_from_reserve).

The paper (arXiv 2502.01600) does not oversample: this is not its setting, and the rollouts spent per
iteration vary, so compare runs at an equal `dynamic/rollouts_spent` (benchmarks/bench_generalization.py
--dynamic-sampling). Rollouts spent include the filtered-out groups and infra-failed rollouts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Sequence

from looprl.trajectory import Trajectory

log = logging.getLogger(__name__)


def has_signal(group: Sequence[Trajectory]) -> bool:
    """At least two surviving members whose rewards are not all equal (else every leave-one-out advantage is 0)."""
    rewards = [r.reward for r in group if not r.infra_failed]
    return len(rewards) >= 2 and max(rewards) != min(rewards)


@dataclass
class SignalBatch:
    rollouts: list[Trajectory]  # the kept groups' members (infra-failed ones included), in draw order
    filtered: list[Trajectory]  # every other rollout sampled: flat groups, and groups with signal past the first n
    metrics: dict[str, float] = field(default_factory=dict)


def collect_with_signal(
    first: Sequence[str],
    draw: Callable[[], list[str]],
    collect: Callable[[list[str]], list[Trajectory]],
    *,
    n_groups: int,
    max_extra_batches: int,
) -> SignalBatch:
    """Collect `first`, then batches from `draw()` (at most `max_extra_batches`), until `n_groups` groups
    have signal. `collect(task_ids)` returns K rollouts per task, grouped by `group_id`."""
    kept: list[Trajectory] = []
    filtered: list[Trajectory] = []
    sampled = with_signal = n_kept = spent = 0
    batch, task_ids = 0, list(first)
    while True:
        rollouts = collect(task_ids)
        spent += len(rollouts)
        if batch:
            for r in rollouts:
                r.group_id = f"{r.group_id}/b{batch}"
        groups: dict[str, list[Trajectory]] = {}
        for r in rollouts:
            groups.setdefault(r.group_id, []).append(r)
        order = {t: j for j, t in reversed(list(enumerate(task_ids)))}  # a task's first position in the batch
        for members in sorted(groups.values(), key=lambda g: order.get(g[0].task_id, len(order))):
            sampled += 1
            signal = has_signal(members)
            with_signal += signal
            if signal and n_kept < n_groups:
                kept += members
                n_kept += 1
            else:
                filtered += members
        if n_kept >= n_groups or batch >= max_extra_batches:
            break
        batch, task_ids = batch + 1, draw()
    missing = n_groups - n_kept
    if missing:
        log.warning(
            "dynamic sampling: %d of %d groups had signal after %d batches of tasks (trainer.dynamic_sampling_max_batches=%d); training on those",
            n_kept,
            n_groups,
            batch + 1,
            max_extra_batches,
        )
    metrics = {
        "dynamic/batches": float(batch + 1),
        "dynamic/groups_sampled": float(sampled),
        "dynamic/groups_with_signal": float(with_signal),
        "dynamic/groups_kept": float(n_kept),
        "dynamic/groups_missing": float(missing),
        "dynamic/rollouts_spent": float(spent),
        "dynamic/reward_mean_sampled": sum(r.reward for r in kept + filtered if not r.infra_failed) / max(sum(not r.infra_failed for r in kept + filtered), 1),
    }
    return SignalBatch(kept, filtered, metrics)
