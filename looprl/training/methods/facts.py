"""What each training method is, stated once and without torch: its name, where its data comes from,
which trainer settings only it reads, and what it requires of them.

The config schema (looprl/config/models.py, imported by the CLI before torch) derives from this table the
allowed method names, "trainer.X only applies to method Y", each method's own checks and which
methods fit fixed data; the trainer asks a method's data source to gather its rollouts. How a method
updates the policy (its advantages, loss, buffer filter, critic) is in its own module (loop.py,
grpo.py, ...), which builds its `Method` from these facts.

Data sources (where a method's rollouts come from):

* `PolicyRollouts`  K rollouts per task from the current policy, every iteration (LOOP, RLOO, GRPO, PPO, EI)
* `BaseModelSweep`  K rollouts per training task from the base model at each temperature of a sweep,
                    once, before any update (RFT)
* `GroundTruthChats` the tasks' ground-truth solutions rendered as agent chats, once (SFT-GT)

A fixed source (the last two) is gathered once, stored with the run (fixed_data.jsonl) so a resumed
run trains on the very same data, and fitted by a policy at temperature 1: its samples are not the
policy's own, so the sampling temperature is not the policy's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from looprl.config import TrainConfig, TrainerConfig
    from looprl.trajectory import Trajectory


class Collector(Protocol):
    """The means a data source gathers rollouts with; the trainer (looprl/training/trainer.py) is one."""

    cfg: "TrainConfig"

    def sample(
        self, task_ids: Sequence[str], *, group_prefix: str, early_stop: bool, temperature: float | None = None, base_model: bool = False
    ) -> list["Trajectory"]:
        """K rollouts per task from the current policy (the base model if `base_model`), at the run's
        sampling temperature unless `temperature` is given; group ids start with `group_prefix`."""
        ...

    def ground_truth(self, task_ids: Sequence[str]) -> list["Trajectory"]:
        """The tasks' ground-truth solutions as agent chats, one per task."""
        ...


@dataclass(frozen=True)
class PolicyRollouts:
    """K rollouts per sampled task from the current policy, every iteration: the policy learns from
    its own samples (at the sampling temperature, which is then the trained policy's)."""

    name: ClassVar[str] = "policy"
    fixed: ClassVar[bool] = False

    def collect(self, collector: Collector, task_ids: Sequence[str], iteration: int) -> list["Trajectory"]:
        return collector.sample(task_ids, group_prefix=f"it{iteration}/", early_stop=collector.cfg.rollout.early_stop)


@dataclass(frozen=True)
class BaseModelSweep:
    """Rejection sampling's data: K rollouts per training task from the base model at each temperature
    of the sweep, gathered once before any update (so the adapter is still the starting one)."""

    temperatures: tuple[float, ...]
    name: ClassVar[str] = "base-once"
    fixed: ClassVar[bool] = True

    def collect(self, collector: Collector, task_ids: Sequence[str], iteration: int) -> list["Trajectory"]:
        out: list[Trajectory] = []
        for temp in self.temperatures:
            out += collector.sample(task_ids, group_prefix=f"rft{temp}/", early_stop=False, temperature=temp, base_model=True)
        return out


@dataclass(frozen=True)
class GroundTruthChats:
    """The training tasks' ground-truth solutions as agent chats (looprl/training/sft_data.py), once."""

    name: ClassVar[str] = "ground-truth"
    fixed: ClassVar[bool] = True

    def collect(self, collector: Collector, task_ids: Sequence[str], iteration: int) -> list["Trajectory"]:
        return collector.ground_truth(task_ids)


DataSource = PolicyRollouts | BaseModelSweep | GroundTruthChats


@dataclass(frozen=True)
class Setting:
    """A trainer setting (a TrainerConfig field) that only the methods declaring it read. Changed from
    its default for another method it would be silently ignored, so the config rejects it by name. A
    value `off` says what the other methods already do (a KL weight of 0: no KL term) and is accepted
    for every method, so run configs written when it was the default still load."""

    name: str
    off: Any = None


@dataclass(frozen=True)
class Positive:
    """A setting the method needs above 0; `why` says what to do instead (it ends the error message)."""

    setting: str
    why: str

    def error(self, method: str, trainer: "TrainerConfig") -> str | None:
        value = getattr(trainer, self.setting)
        return None if value > 0 else f"trainer.{self.setting}={value:g} with method {method!r}: {self.why}"


@dataclass(frozen=True)
class MethodFacts:
    name: str  # the CLI name (trainer.method)
    summary: str
    data: DataSource = PolicyRollouts()
    settings: tuple[Setting, ...] = ()  # trainer settings only this method reads
    requires: tuple[Positive, ...] = ()  # checks on its settings, beyond their field types
    # its loss has a decoupled (behaviour-weighted) form, so it may train on rollouts up to
    # rollout.max_staleness policy versions old (looprl/training/pipeline.py)
    off_policy: bool = False
    # its advantage is relative to the task's group of K rollouts, so a group whose rewards are all equal
    # carries no signal and trainer.dynamic_sampling may replace it (looprl/training/dynamic_sampling.py)
    group_relative: bool = False


RFT_TEMPERATURES = (0.4, 0.7, 1.0)  # the base-model temperature sweep RFT collects over
# PPO's critic and its schedule (the paper's baseline settings)
_CRITIC = tuple(
    Setting(name)
    for name in ("value_coef_start", "value_coef_end", "value_coef_iterations", "critic_warmup_iterations", "gae_gamma", "gae_lambda", "value_hidden_size")
)

LOOP = MethodFacts("loop", "leave-one-out PPO, per-token clip (the paper's LOOP)", off_policy=True, group_relative=True)
LOOP_TURN = MethodFacts("loop-turn", "leave-one-out PPO, one ratio per turn", group_relative=True)
LOOP_BANDIT = MethodFacts("loop-bandit", "leave-one-out PPO, one ratio per trajectory", group_relative=True)
LOOP_RWNORM = MethodFacts("loop-rwnorm", "LOOP with std-normalized advantages", off_policy=True, group_relative=True)
RLOO = MethodFacts("rloo", "leave-one-out REINFORCE, one on-policy step per batch", group_relative=True)
GRPO = MethodFacts("grpo", "group-normalized advantage, on-policy, no KL", group_relative=True)
GRPO_KL = MethodFacts(
    "grpo-kl",
    "GRPO with a k3 KL to the adapter-disabled model",
    group_relative=True,
    settings=(Setting("kl_coef", off=0.0),),
    requires=(Positive("kl_coef", "a KL term of weight 0 is method 'grpo'; use that, or a kl_coef > 0"),),
)
PPO = MethodFacts("ppo", "PPO with a learned critic (value head on detached hidden states, GAE gamma = lambda = 1)", settings=_CRITIC)
SFT_GT = MethodFacts("sft-gt", "cross-entropy on ground-truth solutions rendered as agent chats", data=GroundTruthChats(), settings=(Setting("sft_read_docs"),))
RFT = MethodFacts("rft", "cross-entropy on the base model's successful rollouts (temperature sweep)", data=BaseModelSweep(RFT_TEMPERATURES))
EI = MethodFacts("ei", "expert iteration: cross-entropy on the policy's successful rollouts")

# the registry, in the order the CLI lists the methods
METHODS: dict[str, MethodFacts] = {m.name: m for m in (LOOP, LOOP_TURN, LOOP_BANDIT, LOOP_RWNORM, RLOO, GRPO, GRPO_KL, PPO, SFT_GT, RFT, EI)}


def method_settings() -> dict[str, tuple[tuple[str, ...], Any]]:
    """{setting: (the methods that read it, its `off` value)} over every method's declared settings."""
    out: dict[str, tuple[tuple[str, ...], Any]] = {}
    for m in METHODS.values():
        for s in m.settings:
            readers, _ = out.get(s.name, ((), None))
            out[s.name] = (readers + (m.name,), s.off)
    return out
