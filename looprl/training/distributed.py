"""Sharding the trainer over several processes (GPUs, or CPU processes for tests) with FSDP.

Launch (the process count comes from the launcher's environment: WORLD_SIZE, RANK, LOCAL_RANK):

    accelerate launch --config_file configs/accelerate/fsdp-8gpu.yaml -m looprl train --config configs/qwen2.5-32b-8gpu.yaml
    accelerate launch --config_file configs/accelerate/fsdp-2cpu.yaml -m looprl train --config configs/tiny-cpu.yaml

With no launcher (WORLD_SIZE unset or 1) `from_environment()` returns `SINGLE_PROCESS`, whose every
method is the identity: the trainer then runs exactly as a one-process trainer always has.

How the work is divided (one iteration, W processes):

* Rank 0 alone collects rollouts (a vLLM server, Ray env actors, or its own unsharded copy of the
  policy for the transformers backend, hot-swapped with the adapter after every update exactly like
  a vLLM server) and broadcasts them. Every rank then computes the same advantages and buffer, and
  shuffles minibatches with the same seeded generator, so all ranks agree on every minibatch.
* Each minibatch of n trajectories is split across ranks in contiguous slices (`tensor_split`: the
  first n mod W ranks get one more). Every rank runs the SAME number of forward/backward calls (FSDP
  all-gathers and reduce-scatters inside them): a rank with fewer micro-batches pads with
  zero-weight micro-batches (a real row, loss multiplied by 0).
* Gradient equality. Every method's loss is a mean over trajectories, so one process computes
  g = (1/n) sum_x grad l_x, as sum over micro-batches m of (|m|/n) grad L_m. FSDP averages the
  ranks' gradients (reduce-scatter / W), so each rank back-propagates W * (|m|/n) * L_m: the
  average over ranks is again (1/n) sum_x grad l_x, the single-process gradient of the same
  minibatch (tested to float tolerance on the tiny model, odd trajectory counts included).
* "Old" (and reference) logprobs are computed the same way, each rank its slice, then summed
  across ranks: every row is written by exactly one rank, so the sum is the full (B, T) tensor.
* Loss, KL and clip-fraction statistics are summed across ranks before the guards look at them,
  and the guard decision itself (KL, NaN loss, non-finite gradient norm) is all-reduced (max), so
  no rank steps or stops alone.
* Parameters outside the sharded model (PPO's critic head) are replicated: every rank holds all
  of them and their gradients are averaged across ranks like FSDP's; the gradient-norm clip
  combines the sharded and the replicated norms. PPO's critic reads hidden states through the
  same root module, so every pass over the model goes through FSDP's hooks.
* Rank 0 alone writes logs, metrics, rollouts and checkpoints (atomically, as in one process).
  Saving the LoRA gathers its full tensors (only the adapter, never the base weights); the
  optimizer state is gathered to full tensors in the very format one process saves, so a
  checkpoint written by W processes resumes under any W' (including 1) and the other way round.
  Loading scatters the full tensors back into each rank's shard. Rank 0 publishes the adapter to
  the sampler (vLLM server or its own copy).

Sharding: torch FSDP2 (`torch.distributed.fsdp.fully_shard`), each transformer block its own
unit plus one root unit (embeddings, final norm, lm_head, tied weights) around a small module whose
forward is the backend's chunked logprob computation, so FSDP's hooks gather the root's shards for
the whole trunk + lm_head pass. Why not `accelerate.Accelerator` with its FSDP plugin: accelerate
1.15 ignores FSDP on CPU (its state only switches GPU-like distributed types to FSDP; a CPU launch
stays MULTI_CPU), so the plugin could not be tested here. We call the FSDP2 API that the plugin
itself calls, under the accelerate launcher, reading the plugin's settings from the environment
the launcher sets: FSDP_TRANSFORMER_CLS_TO_WRAP (default: the model's `_no_split_modules`) and
FSDP_RESHARD_AFTER_FORWARD. Settings we do not implement are refused by name: fsdp_version 1,
parameter offload, FSDP activation checkpointing (use model.gradient_checkpointing instead).

Every rank loads the full model on the CPU first and FSDP moves each rank's shard to its GPU (no
rank-0-only loading: 32B in bf16 needs ~65 GB of host RAM per process).
Tested on CPU only (gloo, 2 processes, the tiny model); the GPU path (NCCL) is the same code with
a CUDA device mesh but has not been run here.
"""

from __future__ import annotations

import copy
import datetime
import math
import os
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch

from looprl.backends.base import PolicyBackend, TrainableBackend

if TYPE_CHECKING:  # pragma: no cover
    from looprl.backends.hf import HFBackend

GUARD_CODES = {"": 0, "kl_guard": 1, "nan_loss": 2}  # the agreed decision is the max over ranks
# rank 0 may collect rollouts (or evaluate) for hours while the others wait in a broadcast; a rank
# that dies is still noticed at once: the launcher stops the others
COLLECTIVE_TIMEOUT = datetime.timedelta(hours=12)
_UNSUPPORTED_ENV = {
    "FSDP_OFFLOAD_PARAMS": "parameter offload to the CPU",
    "FSDP_ACTIVATION_CHECKPOINTING": "FSDP activation checkpointing (set model.gradient_checkpointing: true instead)",
}


def _chunks(indices: torch.Tensor, size: int) -> list[torch.Tensor]:
    return [indices[i : i + size] for i in range(0, len(indices), size)]


class Distributed:
    """One process, no launcher: every operation is the identity. The base of the sharded version."""

    world_size = 1
    rank = 0
    is_main = True
    sharded = False
    grad_scale = 1.0  # what each rank multiplies its loss by so the averaged gradient is the minibatch's
    load_device: str | None = None  # where to build the policy (None: the backend's default device)

    def micro_batches(self, n: int, size: int) -> list[tuple[torch.Tensor, float]]:
        """This rank's micro-batches of a minibatch of `n` rows: (row indices, share of the minibatch).

        The shares over all ranks sum to 1; a zero share marks padding that only keeps ranks in step."""
        return [(idx, len(idx) / n) for idx in _chunks(torch.arange(n), size)]

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sum of `values` over ranks."""
        return list(values)

    def sum_tensor(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def agree(self, reason: str) -> str:
        """The strongest guard reason any rank gives ("" = go on): every rank acts on the same one."""
        return reason

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank."""
        return obj

    def barrier(self) -> None:
        pass

    def shutdown(self) -> None:
        """Leave the process group (a no-op in one process); call once, when the process is done training."""

    def shard(self, policy: TrainableBackend, sampler: PolicyBackend | None, method: Any) -> tuple[TrainableBackend, PolicyBackend | None]:
        """(the policy to train, the backend rank 0 samples with)."""
        return policy, sampler

    def optimizer_state(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        return optimizer.state_dict()

    def load_optimizer_state(self, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        optimizer.load_state_dict(state)

    def adapter_writer(self, policy: TrainableBackend) -> Callable[[str], None]:
        """A function that writes the adapter to a folder (under FSDP: gathered now, written by rank 0)."""
        return policy.save_adapter

    def average_replicated_grads(self, params: Sequence[torch.Tensor]) -> None:
        """Average over ranks the gradients of parameters FSDP does not manage (PPO's critic: every
        rank holds all of it), as FSDP does for the sharded ones."""

    def clip_grad_norm_(self, params: Sequence[torch.Tensor], max_norm: float) -> float:
        """Scale gradients so their global 2-norm is at most `max_norm`; returns the norm before."""
        return float(torch.nn.utils.clip_grad_norm_(params, max_norm))


SINGLE_PROCESS = Distributed()


def from_environment() -> Distributed:
    """`SINGLE_PROCESS` without a launcher; under `accelerate launch`/torchrun with WORLD_SIZE > 1,
    an FSDP group (the process group is initialized here: NCCL on GPUs, gloo on CPUs)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return SINGLE_PROCESS
    return FSDPDistributed(world_size)


class FSDPDistributed(Distributed):
    """W processes sharding one policy with FSDP2; see the module docstring for the design."""

    sharded = True
    load_device = "cpu"  # FSDP moves each rank's shard to its device

    def __init__(self, world_size: int) -> None:
        import torch.distributed as dist

        version = os.environ.get("FSDP_VERSION", "2")
        if version != "2":
            raise ValueError(f"FSDP_VERSION={version} (fsdp_version in the accelerate config): looprl shards with FSDP2 only; set fsdp_version: 2")
        for var, what in _UNSUPPORTED_ENV.items():
            if os.environ.get(var, "false").lower() == "true":
                raise ValueError(f"{var}=true in the launcher's environment: {what} is not supported; set it to false")
        timeout = COLLECTIVE_TIMEOUT
        self.cuda = torch.cuda.is_available()
        if self.cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        if not dist.is_initialized():
            dist.init_process_group("nccl" if self.cuda else "gloo", timeout=timeout)
        if dist.get_world_size() != world_size:
            raise RuntimeError(f"WORLD_SIZE={world_size} but the process group has {dist.get_world_size()} processes")
        self.world_size, self.rank = world_size, dist.get_rank()
        self.is_main = self.rank == 0
        self.grad_scale = float(world_size)  # FSDP divides the summed gradient by W
        # control traffic (objects, statistics, decisions) goes over gloo on CPU tensors
        self.control = dist.new_group(backend="gloo", timeout=timeout) if self.cuda else dist.group.WORLD
        self.device = torch.device("cuda", torch.cuda.current_device()) if self.cuda else torch.device("cpu")
        reshard = os.environ.get("FSDP_RESHARD_AFTER_FORWARD", "true").lower()
        self.reshard_after_forward = reshard in ("true", "1", "full_shard")
        wrap = os.environ.get("FSDP_TRANSFORMER_CLS_TO_WRAP", "")
        self.layer_classes = {c.strip() for c in wrap.split(",") if c.strip()}

    # ------------------------------------------------------------------ splitting and reducing
    def micro_batches(self, n: int, size: int) -> list[tuple[torch.Tensor, float]]:
        mine = torch.arange(n).tensor_split(self.world_size)[self.rank]
        plan = [(idx, len(idx) / n) for idx in _chunks(mine, size)]
        calls = math.ceil(math.ceil(n / self.world_size) / size)  # rank 0 holds the largest slice
        padding = (torch.zeros(1, dtype=torch.long), 0.0)  # row 0, weight 0: a forward/backward that changes nothing
        return plan + [padding] * (calls - len(plan))

    def sum(self, values: Sequence[float]) -> list[float]:
        import torch.distributed as dist

        t = torch.tensor([float(v) for v in values], dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.SUM, group=self.control)
        return t.tolist()

    def sum_tensor(self, tensor: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        out = tensor.detach().cpu().clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM, group=self.control)
        return out

    def agree(self, reason: str) -> str:
        import torch.distributed as dist

        code = torch.tensor([GUARD_CODES[reason]], dtype=torch.long)
        dist.all_reduce(code, op=dist.ReduceOp.MAX, group=self.control)
        return {v: k for k, v in GUARD_CODES.items()}[int(code)]

    def broadcast(self, obj: Any) -> Any:
        import torch.distributed as dist

        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0, group=self.control)
        return box[0]

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier(group=self.control)

    def shutdown(self) -> None:
        """Wait for every rank, then destroy the process group. A process that exits with the group
        alive can abort in gloo's threads ("terminate called without an active exception", seen once
        in CI) and fail the launch."""
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier(group=self.control)
            dist.destroy_process_group()

    # ------------------------------------------------------------------ the model
    def shard(self, policy: TrainableBackend, sampler: PolicyBackend | None, method: Any) -> tuple[TrainableBackend, PolicyBackend | None]:
        from looprl.backends.hf import HFBackend

        if not isinstance(policy, HFBackend):  # ShardedPolicy reaches into HFBackend's model, adapter files and logprob pass
            raise TypeError(f"FSDP shards a transformers policy (looprl.backends.hf.HFBackend); got {type(policy).__name__}")
        if self.is_main and sampler is policy:
            # the transformers backend samples with an unsharded copy made before sharding (same LoRA
            # init), hot-swapped with the adapter after every update like a vLLM server
            sampler = _unsharded_copy(policy, self.device)
        return ShardedPolicy(policy, self), sampler

    # ------------------------------------------------------------------ checkpoints
    def optimizer_state(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        """The optimizer's state with every sharded tensor gathered in full (collective: every rank
        calls it), in the format `optimizer.state_dict()` has in one process."""
        sd = optimizer.state_dict()
        state = {i: {k: _full(v) for k, v in sd["state"][i].items()} for i in sorted(sd["state"])}
        return {"state": state, "param_groups": sd["param_groups"]}

    def load_optimizer_state(self, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        params = [p for g in optimizer.param_groups for p in g["params"]]
        sharded = {i: {k: _shard_like(v, params[int(i)]) for k, v in state["state"][i].items()} for i in sorted(state["state"])}
        optimizer.load_state_dict({"state": sharded, "param_groups": state["param_groups"]})

    def adapter_writer(self, policy: TrainableBackend) -> Callable[[str], None]:
        return policy.gather_adapter()

    def average_replicated_grads(self, params: Sequence[torch.Tensor]) -> None:
        import torch.distributed as dist
        from torch.distributed.tensor import DTensor

        replicated = [p for p in params if not isinstance(p, DTensor)]
        if not replicated:
            return
        # a parameter no rank has a gradient for stays without one (AdamW then skips it, as in one
        # process); where only some ranks have one, the others join the all-reduce with zeros
        holders = self.sum([p.grad is not None for p in replicated])
        for p, n in zip(replicated, holders):
            if n == 0:
                continue
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= self.world_size

    def clip_grad_norm_(self, params: Sequence[torch.Tensor], max_norm: float) -> float:
        """torch's clip_grad_norm_ cannot mix sharded (DTensor) and replicated gradients: take each
        kind's norm (the sharded one reduced over ranks), combine, and scale both the same way."""
        from torch.distributed.tensor import DTensor

        grads = [p.grad for p in params if p.grad is not None]
        if all(not isinstance(g, DTensor) for g in grads) or all(isinstance(g, DTensor) for g in grads):
            return super().clip_grad_norm_(params, max_norm)
        norms = []
        for kind in ([g for g in grads if isinstance(g, DTensor)], [g for g in grads if not isinstance(g, DTensor)]):
            norm = torch.nn.utils.get_total_norm(kind)
            norms.append((norm.full_tensor() if isinstance(norm, DTensor) else norm).to("cpu", torch.float64))
        total = float(torch.linalg.vector_norm(torch.stack(norms)))
        coef = min(max_norm / (total + 1e-6), 1.0)  # as torch.nn.utils.clip_grad_norm_
        for g in grads:
            g.mul_(coef)
        return total


def _full(value: Any) -> Any:
    from torch.distributed.tensor import DTensor

    return value.full_tensor().cpu() if isinstance(value, DTensor) else value


def _shard_like(value: Any, param: torch.Tensor) -> Any:
    """A full state tensor of `param`'s global shape becomes a DTensor placed like `param`."""
    from torch.distributed.tensor import DTensor, distribute_tensor

    if isinstance(param, DTensor) and torch.is_tensor(value) and tuple(value.shape) == tuple(param.shape):
        return distribute_tensor(value.to(param.device), param.device_mesh, param.placements)
    return value


def _unsharded_copy(policy: "HFBackend", device: torch.device) -> "HFBackend":
    out = copy.deepcopy(policy)
    if device != out.device:
        out.model.to(device)
        out.device = device
        out.generator = torch.Generator(device=device).manual_seed(policy.generator.initial_seed())
    return out


class _Logprobs(torch.nn.Module):
    """The backend's trunk + chunked lm_head pass as one module's forward, so FSDP's root unit
    gathers embeddings, norm and lm_head (tied or not) for the whole pass and reduces their grads."""

    def __init__(self, backend: "HFBackend") -> None:
        super().__init__()
        self.model = backend.model  # registered: its parameters are this module's
        self._backend = [backend]  # not a submodule

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, grad: bool, chunk_size: int, positions: torch.Tensor | None, autocast: str):
        return self._backend[0].logprobs_and_hidden(input_ids, attention_mask, grad=grad, chunk_size=chunk_size, positions=positions, autocast=autocast)


class ShardedPolicy:
    """An HFBackend whose model FSDP2 shards across the process group, as a `TrainableBackend`.
    Logprobs, adapter I/O and the trainable parameters are sharded-aware; the other members of
    `TrainableBackend` (tokenizer, pad_token_id, disable_adapter, ...) are the backend's, each passed
    on by name below (no catch-all: a member the protocol gains must be added here, and
    tests/backends/test_protocol.py says so). It cannot sample: rank 0 samples with its own copy."""

    concurrent_requests = False  # it never samples (see generate)

    def __init__(self, backend: "HFBackend", group: FSDPDistributed) -> None:
        import torch.distributed as dist
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        self._backend, self._group = backend, group
        # every rank seeded the same, so the fresh LoRA is the same; FSDP2 does not check, so make
        # sure (it is small): rank 0's adapter is the one that gets sharded
        for p in backend.model.parameters():
            if p.requires_grad:
                host = p.data.cpu()  # the control group is gloo
                dist.broadcast(host, src=0, group=group.control)
                p.data.copy_(host)
        self._root = _Logprobs(backend)
        mesh = init_device_mesh(group.device.type, (group.world_size,))
        # why: transformers models declare their block classes in _no_split_modules, where they declare them at all
        layer_classes = group.layer_classes or set(getattr(backend.base_model, "_no_split_modules", None) or ())
        if not layer_classes:
            raise ValueError("no transformer block class to shard: set fsdp_transformer_layer_cls_to_wrap in the accelerate config")
        blocks = [m for m in self._root.modules() if type(m).__name__ in layer_classes]
        if not blocks:
            found = sorted({type(m).__name__ for m in self._root.modules()})
            raise ValueError(
                f"fsdp_transformer_layer_cls_to_wrap={sorted(layer_classes)} matches no module of {backend.model_name_or_path}; its module classes are {found}"
            )
        for block in blocks:
            fully_shard(block, mesh=mesh, reshard_after_forward=group.reshard_after_forward)
        fully_shard(self._root, mesh=mesh, reshard_after_forward=group.reshard_after_forward)
        backend.device = group.device  # fully_shard moved the shards there; inputs follow

    # ------------------------------------------------------------------ the backend's, passed on
    @property
    def model(self) -> Any:
        return self._backend.model

    @property
    def tokenizer(self) -> Any:
        return self._backend.tokenizer

    @property
    def stop_token_ids(self) -> tuple[int, ...]:
        return self._backend.stop_token_ids

    @property
    def pad_token_id(self) -> int:
        return self._backend.pad_token_id

    @property
    def device(self) -> torch.device:
        return self._backend.device

    @property
    def policy_temperature(self) -> float:
        return self._backend.policy_temperature

    @property
    def generator(self) -> torch.Generator | None:
        return self._backend.generator

    @property
    def hidden_size(self) -> int:
        return self._backend.hidden_size

    def disable_adapter(self) -> AbstractContextManager[None]:
        """The KL reference: the sharded model runs without its adapter inside the block."""
        return self._backend.disable_adapter()

    # ------------------------------------------------------------------ sharded-aware
    def token_logprobs(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        *,
        grad: bool = True,
        chunk_size: int = 1024,
        positions: torch.Tensor | None = None,
        autocast: str = "off",
    ) -> torch.Tensor:
        return self._root(input_ids, attention_mask, grad, chunk_size, positions, autocast)[0]

    def logprobs_and_hidden(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        *,
        grad: bool = True,
        chunk_size: int = 1024,
        positions: torch.Tensor | None = None,
        autocast: str = "off",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self._root(input_ids, attention_mask, grad, chunk_size, positions, autocast)

    def generate(self, prompts: Sequence[Sequence[int]], sampling: Any) -> Any:
        raise RuntimeError("the FSDP-sharded policy does not generate: rank 0 samples with its own backend")

    def sampling_base_model(self) -> AbstractContextManager[None]:
        raise RuntimeError("the FSDP-sharded policy does not sample: rank 0 samples the base model with its own backend")

    def last_hidden_state(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, *, grad: bool = True, autocast: str = "off"
    ) -> torch.Tensor:
        """Through the root unit like the logprobs (the trunk alone would bypass its hooks); no position
        needs a logprob, so lm_head never runs."""
        no_logprobs = torch.zeros(input_ids.shape, dtype=torch.bool)
        return self._root(input_ids, attention_mask, grad, 1024, no_logprobs, autocast)[1]

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self._backend.model.parameters() if p.requires_grad]

    def gather_adapter(self) -> Callable[[str], None]:
        """Gather the full LoRA tensors now (collective: every rank calls it, in the same order);
        returns a writer that saves them in peft's format on rank 0 and does nothing elsewhere."""
        from peft.utils import get_peft_model_state_dict

        model = self._backend.model
        live = model.state_dict()  # sharded tensors, by the model's names
        # peft's own choice of what an adapter file holds (the LoRA weights, plus the embedding layers
        # when one is a target): ask it with placeholder tensors, so nothing is gathered to decide
        marks = {key: torch.empty(0) for key in live}
        names = {id(mark): key for key, mark in marks.items()}
        chosen = [names[id(mark)] for mark in get_peft_model_state_dict(model, state_dict=marks).values()]
        full: dict[str, torch.Tensor] = {}
        for key in chosen:  # the same order on every rank
            tensor = _full(live[key]).detach()
            if self._group.is_main:
                full[key] = tensor.cpu().clone()

        def write(path: str) -> None:
            if self._group.is_main:
                self._backend.save_adapter(path, state_dict=full)

        return write

    def save_adapter(self, path: str | os.PathLike[str]) -> None:
        """Collective: every rank gathers, rank 0 writes (atomically, as HFBackend.save_adapter)."""
        self.gather_adapter()(str(path))

    def load_adapter(self, path: str | os.PathLike[str]) -> None:
        """Every rank reads the saved adapter and keeps its own shard (collective)."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        saved = self._backend.read_adapter(path)
        adapter = getattr(self._backend.model, "active_adapter", "default")  # why: a peft model's; "default" is peft's own default name
        # peft's file names drop the adapter name (".default"); embedding layers saved with the adapter keep theirs
        live = {key.replace(f".{adapter}.", "."): key for key in self._backend.model.state_dict()}
        unknown = sorted(set(saved) - set(live))
        if unknown:
            raise ValueError(f"adapter at {path} has weights the live model has no place for: {unknown[:5]}")
        # keys as the root module names them ("model." + the peft model's own names)
        full = {f"model.{live[key]}": tensor for key, tensor in saved.items()}
        set_model_state_dict(self._root, full, options=StateDictOptions(full_state_dict=True, strict=False))


class HistoryOnly:
    """The metrics logger of ranks other than 0: keeps the history (it is never written)."""

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []

    def log(self, iteration: int, metrics: dict[str, Any]) -> None:
        self.history.append({"iteration": iteration, **metrics})

    def restore(self, history: list[dict[str, Any]]) -> None:
        self.history = [dict(h) for h in history]

    def close(self) -> None:
        pass
