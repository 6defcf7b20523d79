"""Small, dependency-free stand-ins for a policy and a tokenizer.

With `looprl.testing.StepsEnv` they exercise the collector's machinery (batching, budgets, early
stop, Ray actors) without a model or the world, fast enough for unit tests and for measuring the
collector's own overhead in benchmarks/bench_rollout.py. They are importable (not test-local) so Ray
workers can load them.

* `CharTokenizer`: one id per character plus ChatML specials, with a ChatML `apply_chat_template`.
* `ScriptedPolicy`: a `PolicyBackend` (the whole sampler protocol) whose reply is a function of the
  prompt text; records the batch size of every `generate()` call, the adapters it was told to load
  and whether it was asked for the base model.
* `ScriptedChat`: the same as a `ChatBackend`.
* `default_script`: the reply that solves a `StepsEnv` task (step until "ready", then complete).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from looprl.backends.base import ChatResult, Generation, SamplingParams
from looprl.env.base import Message

IM_START, IM_END, PAD = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
_SPECIALS = {PAD: 0, IM_START: 1, IM_END: 2}
_SPECIAL_RE = re.compile("|".join(re.escape(s) for s in _SPECIALS))
_OFFSET = 3


class CharTokenizer:
    """A character-level tokenizer with a ChatML chat template (enough for the collector)."""

    chat_template = "chatml"
    eos_token_id = _SPECIALS[IM_END]
    pad_token_id = _SPECIALS[PAD]
    all_special_ids = sorted(_SPECIALS.values())

    def apply_chat_template(self, messages: Sequence[Message], tokenize: bool = True, add_generation_prompt: bool = False, **_: Any):
        text = "".join(f"{IM_START}{m['role']}\n{m['content']}{IM_END}\n" for m in messages)
        if add_generation_prompt:
            text += f"{IM_START}assistant\n"
        return self.encode(text) if tokenize else text

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        ids: list[int] = []
        pos = 0
        for match in _SPECIAL_RE.finditer(text):
            ids.extend(ord(c) + _OFFSET for c in text[pos : match.start()])
            ids.append(_SPECIALS[match.group(0)])
            pos = match.end()
        ids.extend(ord(c) + _OFFSET for c in text[pos:])
        return ids

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        inverse = {v: k for k, v in _SPECIALS.items()}
        out = []
        for i in ids:
            if i in inverse:
                if not skip_special_tokens:
                    out.append(inverse[i])
            else:
                out.append(chr(i - _OFFSET))
        return "".join(out)


def default_script(prompt: str) -> str:
    """Complete the task once the env said "ready", otherwise take one more step."""
    last_user = prompt.rsplit(f"{IM_START}user\n", 1)[-1]
    if "ready" in last_user:
        return "Done.\n```python\napis.supervisor.complete_task()\n```"
    return "Next step.\n```python\nprint(apis.toy.step())\n```"


class ScriptedPolicy:
    """A PolicyBackend whose reply to a prompt is `script(prompt_text)` (token by token, stop id appended).

    `adapters` lists the paths `load_adapter` was given; `on_base_model` is True inside
    `sampling_base_model()` (the reply does not change: there is no model); `close()` counts in `closed`
    and, given `closed_marker`, writes that file (seen from another process)."""

    concurrent_requests = False  # one generate() call per batch of waiting episodes
    generator = None  # the replies are not random
    stop_token_ids = (CharTokenizer.eos_token_id,)  # <|im_end|>, the end of a ChatML turn

    def __init__(self, script: Callable[[str], str] = default_script, *, delay_s: float = 0.0, closed_marker: str | None = None):
        self.tokenizer = CharTokenizer()
        # generate() reads and writes text with a tokenizer of its own, as a real backend's engine does,
        # so a test may swap `tokenizer` (what the collector uses) for an instrumented one
        self._script_tokenizer = CharTokenizer()
        self.script = script
        self.delay_s = delay_s
        self.batch_sizes: list[int] = []
        self.adapters: list[str] = []
        self.on_base_model = False
        self.closed, self.closed_marker = 0, closed_marker

    def load_adapter(self, path: str | os.PathLike[str]) -> None:
        self.adapters.append(str(path))

    def close(self) -> None:
        self.closed += 1
        if self.closed_marker:
            Path(self.closed_marker).write_text(str(self.closed))

    @contextlib.contextmanager
    def sampling_base_model(self) -> Iterator[None]:
        previous, self.on_base_model = self.on_base_model, True
        try:
            yield
        finally:
            self.on_base_model = previous

    def generate(self, prompts: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Generation]:
        self.batch_sizes.append(len(prompts))
        if self.delay_s:
            time.sleep(self.delay_s)
        out = []
        for prompt in prompts:
            ids = self._script_tokenizer.encode(self.script(self._script_tokenizer.decode(prompt)))
            finish = "stop"
            if len(ids) >= sampling.max_new_tokens:
                ids, finish = ids[: sampling.max_new_tokens], "length"
            else:
                ids.append(sampling.stop_token_ids[0] if sampling.stop_token_ids else CharTokenizer.eos_token_id)
            out.append(Generation(token_ids=ids, logprobs=[-0.5] * len(ids), finish_reason=finish))
        return out


class ScriptedChat:
    """A ChatBackend: replies `script(last user message)`; token counts are character counts."""

    concurrent_requests = False  # one chat() call per batch of waiting episodes

    def __init__(self, script: Callable[[str], str] = default_script):
        self.script = script
        self.batch_sizes: list[int] = []

    def chat(self, conversations: Sequence[list[dict[str, str]]], sampling: SamplingParams) -> list[ChatResult]:
        self.batch_sizes.append(len(conversations))
        results = []
        for conv in conversations:
            text = self.script(f"{IM_START}user\n" + conv[-1]["content"])
            results.append(ChatResult(text=text, prompt_tokens=sum(len(m["content"]) for m in conv), completion_tokens=len(text)))
        return results
