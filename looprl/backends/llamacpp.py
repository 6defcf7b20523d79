"""The llama.cpp policy backend: token ids + logprobs from llama.cpp's server run in this process
(`xllamacpp`, a prebuilt wheel: `pip install 'looprl[llamacpp]'`), on a GGUF file of the model with
the current adapter merged into its weights.

* The model: `GGUFExporter` (gguf_export.py) writes the model folder, with the adapter merged, as
  GGUF at `tensor_type` ("f32", "f16", "bf16" or "q8_0"; default bf16 where the CPU has AVX-512 BF16
  or AMX, f32 elsewhere). The base weights stay in memory, so each publish re-reads only the adapter.
* `generate` sends each token-id prompt to the server's completion handler as its own request, from
  as many threads as there are prompts (up to `concurrency`); the server decodes its `concurrency`
  slots as one batch (continuous batching), and a slot keeps its KV cache for the next turn of the
  same episode (`cache_prompt`: the episode's prompt only grows, so the next turn recomputes only
  the new tokens).
* Logprobs, the contract of base.py (log-softmax(logits / T) of each sampled token, before top-p/
  top-k truncation; T = 1 for greedy requests): with neither top-p nor top-k, the server's
  `post_sampling_probs` is the probability of the draw under softmax(logits / T), exact at any T;
  with truncation at T = 1 (or greedy), its `n_probs` probability, softmax(logits), is. Truncation at
  any other T has no exact value here and raises ValueError (training never truncates: its
  config refuses top_p < 1 and top_k > 0).
* Exactness: at f32 the sampler's logprobs equal the transformers model's to float rounding
  (tests/backends/test_llamacpp.py); flash attention is off and the KV cache is f32 there, since
  llama.cpp's CPU flash attention and f16 cache move logprobs by ~1e-2. bf16 and q8_0 weights are a
  different policy from the trainer's float32 one: their logprobs are the sampler's own, which the
  importance ratio of an off-policy correction has to account for.
* Stops: llama.cpp ends a sequence at the model's end-of-generation tokens (eos, and the ones it
  recognises by their text, <|im_end|> and <|endoftext|> among them). A sequence is cut after the
  first of the request's `stop_token_ids`; one that llama.cpp ended at another end-of-generation
  token is continued from where it stopped (a new request on the prompt plus what was sampled, which
  reuses the slot's cache), so the draw is the model's, token for token.
* `load_adapter(path)` exports the merged GGUF and starts a server on it; requests sent after it
  go to the new server, the old one is shut down once the requests it is answering are done.
  `sampling_base_model()` serves the base weights inside the block and the merged ones after.
* Unseeded requests get a seed drawn from a `random.Random(seed)` of this backend, so two requests
  for the same prompt sample differently; `generator` is None (no torch RNG to checkpoint).
* Files (the GGUF of the base model and of the current adapter) live in one folder of this backend,
  removed by `close()`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import shutil
import tempfile
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator, Sequence

from looprl.backends.base import Generation, SamplerUnavailable, SamplingParams, check_prompts
from looprl.backends.gguf_export import TENSOR_TYPES

log = logging.getLogger("looprl.backends.llamacpp")

INSTALL_HINT = "pip install 'looprl[llamacpp]'"
# The server's sampler chain, fixed: top-k, top-p, then temperature (llama.cpp's default chain adds
# min-p 0.05, top-k 40, repetition penalties and more, which would change what is sampled).
SAMPLERS = ["top_k", "top_p", "temperature"]


def default_tensor_type(flags: Sequence[str] | None = None) -> str:
    """bf16 where the CPU computes in it (AVX-512 BF16 or AMX), else f32."""
    if flags is None:
        from looprl.utils.hardware import cpu_info

        flags = cpu_info()["flags"]
    return "bf16" if {"avx512_bf16", "amx_bf16"} & set(flags) else "f32"


def _xllamacpp():
    try:
        import xllamacpp
    except ImportError as exc:
        raise ImportError(f"rollout.backend='llamacpp' needs llama.cpp's Python server, xllamacpp: {INSTALL_HINT}") from exc
    return xllamacpp


class _Served:
    """One running server on one GGUF file, and how many requests it is answering."""

    def __init__(self, server: Any, path: Path) -> None:
        self.server, self.path, self.active = server, path, 0


class LlamaCppBackend:
    """PolicyBackend over llama.cpp's in-process server (see the module docstring).

    `concurrency` is the server's number of slots (sequences decoded as one batch); `context_length`
    the most tokens one sequence (prompt + generation) may hold: the KV cache has room for
    `context_length * concurrency` tokens, shared by the slots. `n_threads` defaults to every core
    this process may use.
    """

    concurrent_requests = True  # one request per episode from many threads; the server batches them
    generator = None  # sampling state is in the server (and the seed stream of `_seeds`), not a torch RNG

    def __init__(
        self,
        model_name_or_path: str,
        *,
        adapter_path: str | os.PathLike[str] | None = None,
        tensor_type: str | None = None,
        n_threads: int | None = None,
        concurrency: int = 16,
        context_length: int = 4096,
        seed: int = 0,
        flash_attn: bool | None = None,
        workdir: str | os.PathLike[str] | None = None,
    ) -> None:
        from transformers import AutoTokenizer

        from looprl.backends import resolve_model
        from looprl.backends.gguf_export import GGUFExporter
        from looprl.backends.hf import end_of_turn_token_ids

        self._xlc = _xllamacpp()
        self.tensor_type = tensor_type or default_tensor_type()
        if self.tensor_type not in TENSOR_TYPES:
            raise ValueError(f"tensor_type must be one of {TENSOR_TYPES}, got {tensor_type!r}")
        self.model_name_or_path = resolve_model(model_name_or_path)
        self.n_threads = n_threads or len(os.sched_getaffinity(0))
        self.concurrency, self.context_length = concurrency, context_length
        # exact at f32: llama.cpp's CPU flash attention computes in reduced precision
        self.flash_attn = (self.tensor_type != "f32") if flash_attn is None else flash_attn
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_name_or_path)
        self.stop_token_ids = end_of_turn_token_ids(self.tokenizer)
        self.workdir = Path(tempfile.mkdtemp(prefix="looprl-llamacpp-", dir=workdir))
        # its exported GGUFs (hundreds of MB) go at close(), else when this object is collected or the process exits
        weakref.finalize(self, shutil.rmtree, str(self.workdir), True)
        self._exporter = GGUFExporter(self.model_name_or_path)
        self._seeds, self._seed_lock = random.Random(seed), threading.Lock()
        self._lock = threading.Condition()
        self._served: _Served | None = None
        self._retiring: list[threading.Thread] = []
        self._base_gguf: Path | None = None
        self._merged_path: Path | None = None  # the current adapter's GGUF
        self._count = 0
        self.adapter_path: Path | None = None
        self.publish_s: float | None = None  # seconds the last load_adapter took (export + server start)
        self._on_base_model = False
        if adapter_path is not None:
            self.load_adapter(adapter_path)
        else:
            self._serve(self._base())

    # ------------------------------------------------------------------ servers
    def _base(self) -> Path:
        if self._base_gguf is None:
            self._base_gguf = self._exporter.export(self.workdir / "base.gguf", tensor_type=self.tensor_type)
        return self._base_gguf

    def _start(self, path: Path) -> Any:
        xlc = self._xlc
        params = xlc.CommonParams()
        params.model.path = str(path)
        params.n_parallel = self.concurrency
        params.n_ctx = self.context_length * self.concurrency
        params.kv_unified = True  # one cache for all slots: a long episode may use what short ones leave
        params.n_batch = params.n_ubatch = min(2048, params.n_ctx)
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = self.n_threads
        fa = xlc.llama_flash_attn_type
        params.flash_attn_type = fa.LLAMA_FLASH_ATTN_TYPE_ENABLED if self.flash_attn else fa.LLAMA_FLASH_ATTN_TYPE_DISABLED
        kv = xlc.ggml_type.GGML_TYPE_F32 if self.tensor_type == "f32" else xlc.ggml_type.GGML_TYPE_F16
        params.cache_type_k = params.cache_type_v = kv
        params.ctx_shift = False  # a full context ends the sequence; never drop its first tokens
        params.warmup = False
        params.verbosity = -1
        try:
            server = xlc.Server(params)
        except RuntimeError as exc:
            raise SamplerUnavailable(f"llama.cpp could not serve {path}: {exc} (its messages went to stderr)") from exc
        # why: a server destroyed before its loop has served anything hangs in its destructor (seen with
        # xllamacpp 2026.10: build then close at once never returned); one served token means it is up
        response = server.handle_completions({"prompt": [self.stop_token_ids[0]], "n_predict": 1, "cache_prompt": False})
        if not isinstance(response, dict) or "choices" not in response:
            raise SamplerUnavailable(f"llama.cpp loaded {path} but could not serve a first token: {response}")
        return server

    def _serve(self, path: Path) -> None:
        """Send requests to a new server on `path` from now on; the previous one is shut down on a
        thread of its own once the requests it is answering are done."""
        new = _Served(self._start(path), path)
        with self._lock:
            old, self._served = self._served, new
        if old is not None:
            retiring = threading.Thread(target=self._retire, args=(old,), name="llamacpp-retire", daemon=True)
            retiring.start()
            self._retiring.append(retiring)

    def _retire(self, served: _Served) -> None:
        with self._lock:
            while served.active:
                self._lock.wait()
            server, served.server = served.server, None
        del server  # the extension's destructor stops the server's threads and frees the model
        if served.path not in (self._base_gguf, self._merged_path):
            served.path.unlink(missing_ok=True)  # an adapter no longer served

    @contextlib.contextmanager
    def _server(self) -> Iterator[Any]:
        with self._lock:
            served = self._served
            if served is None:
                raise SamplerUnavailable("the llama.cpp backend is closed")
            served.active += 1
        try:
            yield served.server
        finally:
            with self._lock:
                served.active -= 1
                self._lock.notify_all()

    # ------------------------------------------------------------------ generation
    def generate(self, prompts: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Generation]:
        """Sample one continuation per prompt: ids exactly as llama.cpp drew them, with their logprobs."""
        check_prompts(prompts)
        truncated = sampling.top_p < 1.0 or sampling.top_k > 0
        if truncated and sampling.temperature not in (0.0, 1.0):
            raise ValueError(
                f"llama.cpp reports the probability of a draw after top-p/top-k truncation, or softmax(logits) before it; "
                f"the logprob under softmax(logits / {sampling.temperature}) before truncation (base.py's contract) has no exact "
                "value with top_p < 1 or top_k > 0 at a temperature other than 1: sample at temperature 1, or without truncation"
            )
        stops = tuple(sampling.stop_token_ids or self.stop_token_ids)
        seeds = [sampling.seed + i if sampling.seed is not None else self._draw_seed() for i in range(len(prompts))]
        if len(prompts) == 1:
            return [self._one(prompts[0], sampling, stops, seeds[0], truncated)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            return list(pool.map(lambda i: self._one(prompts[i], sampling, stops, seeds[i], truncated), range(len(prompts))))

    def _draw_seed(self) -> int:
        with self._seed_lock:
            return self._seeds.getrandbits(31)

    def _one(self, prompt: Sequence[int], sampling: SamplingParams, stops: tuple[int, ...], seed: int, truncated: bool) -> Generation:
        greedy = sampling.temperature <= 0
        post_sampling = not greedy and not truncated  # the draw's probability under softmax(logits / T)
        ids: list[int] = []
        logprobs: list[float] = []
        context = list(map(int, prompt))
        while True:
            payload = {
                "prompt": context + ids,
                "n_predict": sampling.max_new_tokens - len(ids),
                "temperature": max(sampling.temperature, 0.0),
                "top_k": sampling.top_k,
                "top_p": sampling.top_p,
                "samplers": SAMPLERS,
                "n_probs": 1,
                "post_sampling_probs": post_sampling,
                "cache_prompt": True,
                "seed": seed + len(ids),  # a continuation draws afresh
            }
            with self._server() as server:
                response = server.handle_completions(payload)
            choice = self._choice(response, len(context) + len(ids))
            for entry in choice["logprobs"]["content"] if choice.get("logprobs") else []:
                ids.append(int(entry["id"]))
                logprobs.append(math.log(entry["prob"]) if post_sampling else float(entry["logprob"]))
                if ids[-1] in stops:
                    return Generation(token_ids=ids, logprobs=logprobs, finish_reason="stop")
            if choice.get("finish_reason") != "stop" or len(ids) >= sampling.max_new_tokens:
                return Generation(token_ids=ids, logprobs=logprobs, finish_reason="length")
            # llama.cpp stopped at an end-of-generation token the request does not stop at: go on from it

    def _choice(self, response: Any, n_prompt: int) -> dict[str, Any]:
        if not isinstance(response, dict) or "choices" not in response:
            message = response.get("error", response) if isinstance(response, dict) else response
            if n_prompt >= self.context_length:
                raise ValueError(f"a prompt of {n_prompt} tokens does not fit the llama.cpp context of {self.context_length} tokens: {message}")
            raise RuntimeError(f"llama.cpp completion failed: {message}")
        return response["choices"][0]

    # ------------------------------------------------------------------ adapters
    def load_adapter(self, path: str | os.PathLike[str]) -> Path:
        """Serve the model with the peft adapter at `path` merged (a new GGUF file, a new server);
        returns the GGUF file. Its time, export and start, is in `publish_s`."""
        path = Path(path).resolve()
        if not (path / "adapter_config.json").is_file():
            raise FileNotFoundError(f"{path} is not a peft adapter folder (no adapter_config.json)")
        t0 = time.perf_counter()
        self._count += 1
        merged = self._exporter.export(self.workdir / f"adapter-{self._count}.gguf", adapter=path, tensor_type=self.tensor_type)
        previous, self._merged_path, self.adapter_path = self._merged_path, merged, path
        if not self._on_base_model:  # else served when the base-model block ends
            self._serve(merged)
        elif previous is not None:
            previous.unlink(missing_ok=True)  # never served since
        self.publish_s = time.perf_counter() - t0
        log.info("llama.cpp serves %s merged (%s, %.2fs)", path, self.tensor_type, self.publish_s)
        return merged

    @contextlib.contextmanager
    def sampling_base_model(self) -> Iterator[None]:
        """Serve the base weights inside the block, the adapter's merged ones after it."""
        if self._merged_path is None or self._on_base_model:
            yield
            return
        self._on_base_model = True
        self._serve(self._base())
        try:
            yield
        finally:
            self._on_base_model = False
            self._serve(self._merged_path)

    # ------------------------------------------------------------------ shutdown
    def close(self) -> None:
        with self._lock:
            served, self._served = self._served, None
        if served is not None:
            self._retire(served)
        for retiring in self._retiring:
            retiring.join()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "LlamaCppBackend":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
