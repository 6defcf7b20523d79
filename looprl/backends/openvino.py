"""The OpenVINO policy backend: token ids + logprobs from openvino-genai's ContinuousBatchingPipeline
run in this process (`pip install 'looprl[openvino]'`), on an OpenVINO IR export of the model, with
the trained LoRA adapter applied at run time (no re-export per update).

* The model: `export_openvino` writes the model folder as OpenVINO IR at `weight_format` ("int8",
  the fast default, "fp16" or "fp32") with `optimum-cli export openvino`, run in a virtual
  environment of its own (`setup_openvino_venv`: optimum-intel pins its own transformers and pulls
  nncf; the main environment only needs openvino-genai to run the IR). The export is cached by the
  model folder's path and files, so a run exports the base weights once (SmolLM2-135M at int8: 70 s
  on 2 shared cores; the tiny test model: ~15 s, mostly the exporter's start).
* Adapters: openvino-genai applies a peft LoRA's safetensors as extra low-rank matmuls next to the
  base weights (`ov_genai.Adapter`, `AdapterConfig`). `load_adapter(path)` builds a new pipeline on
  the same IR with the adapter's matrices as constants of the compiled graph (MODE_STATIC; its scale
  lora_alpha / r, which openvino-genai takes as the adapter's alpha) and serves it from then on;
  `sampling_base_model()` serves a pipeline without any adapter inside the block. Its time is
  `publish_s`: compiling the IR again, no export (SmolLM2-135M int8 on 2 shared cores: 2.8-3.2 s).
  Why a new pipeline rather than switching the adapter of the running one (its dynamic mode, which
  keeps the matrices as state tensors): the prefix cache holds keys and values the old weights
  computed (openvino-genai 2026.4 keys its cached blocks by token ids only, and its Python API has no
  way to drop them: seen on the tiny model, a prompt longer than a cache block continued with the old
  adapter's keys and values after a switch), and the dynamic mode's unfused matmuls decode ~1.6x slower than the static ones
  (SmolLM2 int8, 16 sequences: 161-179 tokens/s vs 259; no adapter: 266-280). Merging the adapter
  into the int8 weights (MODE_FUSE) is refused by openvino-genai for compressed weights.
* `generate` adds every prompt as a request and steps the pipeline until all are finished: one
  call carries the batch (`concurrent_requests` False, the collector's batch mode), decoded with
  continuous batching and a prefix cache shared by the requests (an episode's next turn recomputes
  only its new tokens; the K episodes of a task share their first prompt).
* Logprobs: openvino-genai's `generated_log_probs` are log-softmax(logits) of each sampled token,
  before the temperature and before top-p/top-k truncation. That is base.py's contract
  (log-softmax(logits / T) of the draw) at T = 1 and for greedy requests, and at no other
  temperature: `generate` refuses one (ValueError), and the config refuses
  rollout.sampling.temperature other than 0 or 1 with this backend.
* Exactness, by weight format: at fp32 the pipeline computes in f32 with an f32 KV cache (the CPU
  plugin's default on a CPU with bf16 instructions is bf16 activations and a u8 cache), and its
  logprobs follow the trainer's to float rounding (tests/backends/test_openvino.py measures the
  gap). int8 (and fp16) weights run with the plugin's defaults: a different policy from the trainer's
  float32 one, so int8 sampling is off-policy. With rollout.max_staleness >= 1 the decoupled loss
  takes these logprobs as the behaviour policy mu and corrects with min(pi_prox / mu, C)
  (looprl/algorithms/losses.py, issue 23 item 2); at staleness 0 the trainer's own recomputed
  logprobs are the ratio's denominator and the sampler's are not used, so the int8 mismatch is an
  uncorrected bias of the samples' distribution (measured on the demo: mean |gap| 4.6e-3 nats per
  token, max 0.64; benchmarks/results/sampler/).
* Stops: a sequence ends after the first of the request's `stop_token_ids`. openvino-genai also ends
  one at the model's eos; when that is not among the request's stops, the sequence is continued from
  where it stopped (a new request on the prompt plus what was sampled, which the prefix cache mostly
  holds), so the draw is the model's, token for token.
* Threads: openvino-genai 2026.4's Python binding holds the GIL for the whole of each `step()` (one
  forward of the batch), so while the pipeline steps no other Python thread of this process runs
  (measured on 2 cores: a counting Python thread ran at 12% of the rate it had beside a sleep while
  SmolLM2 int8 stepped on one inference thread). The synchronous loop (rollout.max_staleness 0) does not mind; the
  overlapped one (>= 1) would have the trainer's thread wait on the sampler's steps, so there build.py
  runs this backend in a child process of its own (looprl/backends/process.py, rollout.sampler_process).
* Seeds: each request gets its own rng seed (`sampling.seed + i`, or one drawn from this backend's
  `random.Random(seed)` when unseeded), so two requests for the same prompt sample differently;
  `generator` is None (no torch RNG to checkpoint).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from looprl.backends.base import Generation, SamplingParams, check_prompts
from looprl.backends.lora import plain_lora_scale

log = logging.getLogger("looprl.backends.openvino")

INSTALL_HINT = "pip install 'looprl[openvino]'"
WEIGHT_FORMATS = ("int8", "fp16", "fp32")
# The export environment's openvino-genai: the one this process runs (the IR and the tokenizer
# model the exporter writes are read by it), else this release.
OPENVINO_GENAI_VERSION = "2026.4.1.0"
EXPORT_PACKAGES = ("optimum-intel[openvino]", "psutil")
_STAMP = ".looprl-openvino-installed"
_REPO = Path(__file__).resolve().parents[2]


def _openvino_genai():
    try:
        import openvino_genai
    except ImportError as exc:
        raise ImportError(f"rollout.backend='openvino' needs openvino-genai: {INSTALL_HINT}") from exc
    return openvino_genai


# ---------------------------------------------------------------------------------------------------
# the export environment and the export
# ---------------------------------------------------------------------------------------------------
def default_openvino_venv() -> Path:
    """`.venvs/openvino` in a source checkout (next to pyproject.toml), else $LOOPRL_HOME/venvs/openvino."""
    if (_REPO / "pyproject.toml").is_file():
        return _REPO / ".venvs" / "openvino"
    from looprl.backends import looprl_home

    return looprl_home() / "venvs" / "openvino"


def _genai_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("openvino-genai")
    except PackageNotFoundError:
        return OPENVINO_GENAI_VERSION


def export_packages() -> tuple[str, ...]:
    """What the export environment installs: optimum-intel and the openvino-genai this process runs."""
    return (f"openvino-genai=={_genai_version()}", *EXPORT_PACKAGES)


def setup_openvino_venv(venv: str | Path | None = None, *, constraints: str | Path | None = None, log=print) -> Path:
    """The virtual environment that exports models to OpenVINO IR (idempotent: a stamp records what
    was installed); returns its python. Installs `export_packages()` pinned by `constraints`
    (default: the project's constraints/cpu.txt: the CPU torch), then removes torchvision/torchaudio/
    torchcodec, which optimum pulls in built for another torch (they break transformers' imports).
    Raises RuntimeError with pip's message when a step fails."""
    venv = Path(venv) if venv else default_openvino_venv()
    python, stamp = venv / "bin" / "python", venv / _STAMP
    packages = export_packages()
    if stamp.is_file() and stamp.read_text().split() == list(packages):
        return python
    if constraints is None:
        candidate = _REPO / "constraints" / "cpu.txt"
        constraints = candidate if candidate.is_file() else None
    log(f"[openvino] installing {', '.join(packages)} into {venv}")
    pip = [str(python), "-m", "pip"]
    steps = [] if python.is_file() else [[sys.executable, "-m", "venv", str(venv)]]
    steps.append([*pip, "install", "-q", *(["-c", str(constraints)] if constraints else []), *packages])
    steps.append([*pip, "uninstall", "-y", "-q", "torchvision", "torchaudio", "torchcodec"])
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"`{' '.join(cmd)}` failed (exit {done.returncode}): {done.stderr.strip()[-600:]}")
    stamp.write_text(" ".join(packages) + "\n")
    return python


def _model_key(model: Path) -> str:
    """The model folder's path and its files' names, sizes and modification times: a folder written again is exported again."""
    h = hashlib.sha1(str(model.resolve()).encode())
    for f in sorted(p for p in model.iterdir() if p.is_file()):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:10]


def export_openvino(model: str | os.PathLike[str], weight_format: str = "int8", *, venv: str | Path | None = None, log=print) -> Path:
    """`model` (a local transformers folder) as OpenVINO IR at `weight_format`, exported on first use
    with `optimum-cli export openvino` in the export environment (made on first use too) and cached
    under it (`<venv>/models/`); returns the IR folder. Raises RuntimeError with the exporter's
    message when it fails."""
    if weight_format not in WEIGHT_FORMATS:
        raise ValueError(f"weight_format must be one of {WEIGHT_FORMATS}, got {weight_format!r}")
    model = Path(model)
    if not (model / "config.json").is_file():
        raise FileNotFoundError(f"{model} is not a local model folder (no config.json); the OpenVINO export needs one")
    python = setup_openvino_venv(venv, log=log)
    out = python.parents[1] / "models" / f"{model.resolve().name}-{_model_key(model)}-{weight_format}"
    if (out / "openvino_model.xml").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))  # renamed when complete: a killed export leaves no IR behind
    log(f"[openvino] exporting {model} to OpenVINO IR ({weight_format}) at {out}")
    cmd = [str(python), "-m", "optimum.commands.optimum_cli", "export", "openvino", "--model", str(model), "--task", "text-generation-with-past"]
    done = subprocess.run([*cmd, "--weight-format", weight_format, str(partial)], capture_output=True, text=True)
    if done.returncode != 0 or not (partial / "openvino_model.xml").is_file():
        shutil.rmtree(partial, ignore_errors=True)
        raise RuntimeError(f"optimum-cli export openvino failed (exit {done.returncode}): {done.stderr.strip()[-600:]}")
    try:
        partial.rename(out)
    except OSError:  # another process finished the same export first
        shutil.rmtree(partial, ignore_errors=True)
    return out


# ---------------------------------------------------------------------------------------------------
# the backend
# ---------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _signal_stack_kept() -> Iterator[None]:
    """Put the calling thread's alternate signal stack back as it was after the block. openvino-genai
    2026.4 sets one on the thread that builds (and that frees) a pipeline, whose memory it later frees:
    the next signal the thread handles (Ctrl-C, the trainer's SIGTERM handling; Python's handlers run
    on the alternate stack) then crashed the process with SIGSEGV (seen: a pipeline built and closed,
    then os.kill(SIGINT) with a Python handler installed). Linux and macOS; elsewhere a no-op."""
    import ctypes

    class _Stack(ctypes.Structure):
        _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t)]

    try:
        sigaltstack = ctypes.CDLL(None).sigaltstack
    except (OSError, AttributeError):  # no C library symbol to call (not a POSIX system)
        yield
        return
    before = _Stack()
    saved = sigaltstack(None, ctypes.byref(before)) == 0
    try:
        yield
    finally:
        if saved:
            sigaltstack(ctypes.byref(before), None)


class _Pipeline:
    """One ContinuousBatchingPipeline and the lock that lets one generate() step it at a time."""

    def __init__(self, pipe: Any) -> None:
        self.pipe, self.lock = pipe, threading.Lock()


class OpenVINOBackend:
    """PolicyBackend over openvino-genai's ContinuousBatchingPipeline (see the module docstring).

    `concurrency` is the most sequences decoded as one batch; `cache_gib` the KV cache's size (GiB,
    shared by the sequences, allocated as they grow); `n_threads` the CPU plugin's inference threads
    (default: every core this process may use)."""

    concurrent_requests = False  # one call carries every waiting episode; the pipeline batches them
    generator = None  # sampling state is in the pipeline (per-request seeds), not a torch RNG

    def __init__(
        self,
        model_name_or_path: str,
        *,
        adapter_path: str | os.PathLike[str] | None = None,
        weight_format: str = "int8",
        n_threads: int | None = None,
        concurrency: int = 16,
        cache_gib: int = 2,
        prefix_caching: bool = True,
        seed: int = 0,
        venv: str | Path | None = None,
    ) -> None:
        self._ov_genai = _openvino_genai()
        from transformers import AutoTokenizer

        from looprl.backends import resolve_model
        from looprl.backends.hf import end_of_turn_token_ids

        if weight_format not in WEIGHT_FORMATS:
            raise ValueError(f"weight_format must be one of {WEIGHT_FORMATS}, got {weight_format!r}")
        self.weight_format = weight_format
        self.model_name_or_path = resolve_model(model_name_or_path)
        self.n_threads = n_threads or len(os.sched_getaffinity(0))
        self.concurrency, self.cache_gib, self.prefix_caching = concurrency, cache_gib, prefix_caching
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_name_or_path)
        self.stop_token_ids = end_of_turn_token_ids(self.tokenizer)
        t0 = time.perf_counter()
        self.model_dir = export_openvino(self.model_name_or_path, weight_format, venv=venv, log=log.info)
        self.export_s = time.perf_counter() - t0  # 0-ish when the export was cached
        self._seeds, self._seed_lock = random.Random(seed), threading.Lock()
        self._lock = threading.Lock()  # guards _served and the request counter
        self._next_request = 0
        self._adapter_config: Any = None  # the current adapter's AdapterConfig; None = the base model
        self.adapter_path: Path | None = None
        self.publish_s: float | None = None  # seconds the last load_adapter took (a new pipeline with the adapter)
        self._on_base_model = False
        self._served: _Pipeline | None = None
        if adapter_path is not None:
            self.load_adapter(adapter_path)
        else:
            self._serve(None)

    # ------------------------------------------------------------------ pipelines
    def _properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {"INFERENCE_NUM_THREADS": self.n_threads, "sampler_num_threads": self.n_threads}
        if self.weight_format == "fp32":  # the trainer's precision: no bf16 activations, no quantized KV cache
            props.update({"INFERENCE_PRECISION_HINT": "f32", "KV_CACHE_PRECISION": "f32"})
        return props

    def _build(self, adapters: Any) -> _Pipeline:
        ov_genai = self._ov_genai
        scheduler = ov_genai.SchedulerConfig()
        scheduler.enable_prefix_caching = self.prefix_caching
        scheduler.max_num_seqs = self.concurrency
        scheduler.cache_size = self.cache_gib
        props = self._properties()
        if adapters is not None:
            props["adapters"] = adapters  # MODE_STATIC: the adapter's matrices are constants of the compiled graph
        with _signal_stack_kept():
            return _Pipeline(ov_genai.ContinuousBatchingPipeline(str(self.model_dir), scheduler, "CPU", props))

    def _serve(self, adapters: Any) -> None:
        """Send requests to a new pipeline with `adapters` (None: the base model) from now on; the
        previous one is freed once the generate() stepping it returns."""
        new = self._build(adapters)
        with self._lock:
            old, self._served = self._served, new
        with _signal_stack_kept():
            del old  # freed here, unless a generate() still steps it (that one frees it under the same guard)

    def _current(self) -> _Pipeline:
        with self._lock:
            if self._served is None:
                raise RuntimeError("the openvino backend is closed")
            return self._served

    @staticmethod
    def _ids(ids: Sequence[int]) -> Any:
        import numpy as np
        import openvino as ov

        return ov.Tensor(np.asarray([list(map(int, ids))], dtype=np.int64))

    # ------------------------------------------------------------------ generation
    def generate(self, prompts: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Generation]:
        """Sample one continuation per prompt: ids exactly as the pipeline drew them, with their logprobs."""
        if not prompts:
            return []
        check_prompts(prompts)
        if sampling.temperature > 0 and sampling.temperature != 1.0:
            raise ValueError(
                f"temperature {sampling.temperature}: the openvino backend samples at temperature 1 only (or greedy, 0): "
                "openvino-genai returns log-softmax(logits) of each draw, before the temperature, not the log-softmax(logits / T) "
                "that the trainer's importance ratios compare (looprl/backends/base.py); set rollout.sampling.temperature=1"
            )
        stops = tuple(sampling.stop_token_ids or self.stop_token_ids)
        seeds = [sampling.seed + i if sampling.seed is not None else self._draw_seed() for i in range(len(prompts))]
        ids: list[list[int]] = [[] for _ in prompts]
        logprobs: list[list[float]] = [[] for _ in prompts]
        finish: list[str | None] = [None] * len(prompts)
        with _signal_stack_kept():
            self._sample(self._current(), prompts, sampling, stops, seeds, ids, logprobs, finish)
        return [Generation(token_ids=t, logprobs=lp, finish_reason=f or "length") for t, lp, f in zip(ids, logprobs, finish)]

    def _sample(self, served: _Pipeline, prompts, sampling, stops, seeds, ids, logprobs, finish) -> None:
        """Step `served` until every prompt's sequence is done (the body of generate(), run under the
        signal-stack guard so that the last reference to a replaced pipeline is dropped inside it)."""
        with served.lock:
            while any(f is None for f in finish):
                pending = [i for i, f in enumerate(finish) if f is None]
                handles = {i: self._add(served, list(prompts[i]) + ids[i], sampling, stops, seeds[i] + len(ids[i]), len(ids[i])) for i in pending}
                try:
                    while served.pipe.has_non_finished_requests():
                        served.pipe.step()
                except Exception:
                    for handle in handles.values():  # leave the pipeline empty for the next call
                        handle.cancel()
                    raise
                for i, handle in handles.items():
                    finish[i] = self._collect(handle, ids[i], logprobs[i], stops, sampling.max_new_tokens)

    def _draw_seed(self) -> int:
        with self._seed_lock:
            return self._seeds.getrandbits(31)

    def _add(self, served: _Pipeline, context: list[int], sampling: SamplingParams, stops: tuple[int, ...], seed: int, done: int) -> Any:
        config = self._ov_genai.GenerationConfig()
        config.max_new_tokens = sampling.max_new_tokens - done
        config.logprobs = 1  # generated_log_probs: log-softmax(logits) of each sampled token
        config.stop_token_ids = set(stops)
        config.rng_seed = seed  # a seed per request, or every request would draw the same numbers
        if sampling.temperature > 0:
            config.do_sample, config.temperature, config.top_p = True, sampling.temperature, sampling.top_p
            if sampling.top_k > 0:  # else openvino-genai's default: off
                config.top_k = sampling.top_k
        with self._lock:
            request, self._next_request = self._next_request, self._next_request + 1
        return served.pipe.add_request(request, self._ids(context), config)

    @staticmethod
    def _collect(handle: Any, ids: list[int], logprobs: list[float], stops: tuple[int, ...], max_new_tokens: int) -> str | None:
        """Append what `handle` sampled; "stop" / "length" when the sequence is done, None when it ended
        at an end token that is not among `stops` (it goes on from there)."""
        outputs = handle.read_all()
        new = list(outputs[0].generated_ids) if outputs else []
        new_logprobs = list(outputs[0].generated_log_probs) if outputs else []
        for token, lp in zip(new, new_logprobs):
            ids.append(int(token))
            logprobs.append(float(lp))
            if ids[-1] in stops:
                return "stop"
        if not new or len(ids) >= max_new_tokens:
            return "length"
        return None

    # ------------------------------------------------------------------ adapters
    def load_adapter(self, path: str | os.PathLike[str]) -> Path:
        """Sample with the peft adapter at `path` from now on: a new pipeline on the same IR with the
        adapter applied at run time (no export). Returns `path`; the time it took is `publish_s`."""
        path = Path(path).resolve()
        config_file, weights = path / "adapter_config.json", path / "adapter_model.safetensors"
        if not config_file.is_file() or not weights.is_file():
            raise FileNotFoundError(f"{path} is not a peft adapter folder (adapter_config.json and adapter_model.safetensors)")
        t0 = time.perf_counter()
        scale = plain_lora_scale(json.loads(config_file.read_text()), "the openvino backend")
        ov_genai = self._ov_genai
        adapters = ov_genai.AdapterConfig(ov_genai.Adapter(str(weights)), scale, ov_genai.AdapterConfig.Mode.MODE_STATIC)
        self._adapter_config, self.adapter_path = adapters, path
        if not self._on_base_model:  # else served when the base-model block ends
            self._serve(adapters)
        self.publish_s = time.perf_counter() - t0
        log.info("openvino serves %s (scale %.3g, %.2fs)", path, scale, self.publish_s)
        return path

    @contextlib.contextmanager
    def sampling_base_model(self) -> Iterator[None]:
        """Serve the base weights (a pipeline without adapters) inside the block, the adapter after it."""
        if self._adapter_config is None or self._on_base_model:
            yield
            return
        self._on_base_model = True
        self._serve(None)
        try:
            yield
        finally:
            self._on_base_model = False
            self._serve(self._adapter_config)

    # ------------------------------------------------------------------ shutdown
    def close(self) -> None:
        with self._lock:
            served, self._served = self._served, None
        if served is not None:
            with served.lock, _signal_stack_kept():  # a generate() still stepping it finishes first
                served.pipe = None

    def __enter__(self) -> "OpenVINOBackend":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
