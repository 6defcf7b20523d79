"""Small, dependency-free stand-ins for a policy, a tokenizer and an env.

They exercise the collector's machinery (batching, budgets, early stop, Ray actors) without a model
or the world, fast enough for unit tests and for measuring the collector's own overhead in
benchmarks/bench_rollout.py. They are importable (not test-local) so Ray workers can load them.

* `CharTokenizer`: one id per character plus ChatML specials, with a ChatML `apply_chat_template`.
* `ScriptedPolicy`: a `PolicyBackend` whose reply is a function of the prompt text; records the
  batch size of every `generate()` call.
* `ScriptedChat`: the same as a `ChatBackend`.
* `ToyEnv`: task "toy_<n>" is solved by calling complete_task after the env has said "ready",
  which it does after n steps; `evaluate()` scores an unfinished episode by progress.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any, Callable, Sequence

from looprl.backends.base import ChatResult, Generation, SamplingParams
from looprl.env.base import Message, StepResult

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
    """A PolicyBackend whose reply to a prompt is `script(prompt_text)` (token by token, stop id appended)."""

    def __init__(self, script: Callable[[str], str] = default_script, *, delay_s: float = 0.0):
        self.tokenizer = CharTokenizer()
        self.script = script
        self.delay_s = delay_s
        self.batch_sizes: list[int] = []

    def generate(self, prompts: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Generation]:
        self.batch_sizes.append(len(prompts))
        if self.delay_s:
            time.sleep(self.delay_s)
        out = []
        for prompt in prompts:
            ids = self.tokenizer.encode(self.script(self.tokenizer.decode(prompt)))
            finish = "stop"
            if len(ids) >= sampling.max_new_tokens:
                ids, finish = ids[: sampling.max_new_tokens], "length"
            else:
                ids.append(sampling.stop_token_ids[0] if sampling.stop_token_ids else CharTokenizer.eos_token_id)
            out.append(Generation(token_ids=ids, logprobs=[-0.5] * len(ids), finish_reason=finish))
        return out


class ScriptedChat:
    """A ChatBackend: replies `script(last user message)`; token counts are character counts."""

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


class ToyEnv:
    """Task "toy_<n>": n steps, then the env says "ready"; complete_task after that succeeds."""

    def __init__(self, *, step_delay_s: float = 0.0, observation: str = "ok", fail_on_turn: int | None = None, reset_delay_s: float = 0.0):
        self.step_delay_s = step_delay_s
        self.reset_delay_s = reset_delay_s
        self.observation = observation
        self.fail_on_turn = fail_on_turn
        self.task_id = ""
        self.needed = 0
        self.steps = 0
        self.closed = False

    def reset(self, task_id: str, *, seed: int | None = None) -> tuple[list[Message], dict[str, Any]]:
        match = re.fullmatch(r"toy_(\d+)", task_id)
        if match is None:
            raise ValueError(f"unknown toy task {task_id!r}; toy tasks are named toy_<steps>, e.g. toy_2")
        if self.reset_delay_s:
            time.sleep(self.reset_delay_s)
        self.task_id, self.needed, self.steps = task_id, int(match.group(1)), 0
        info = {
            "instruction": f"Take {self.needed} steps, then complete the task.",
            "supervisor": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone_number": "5550100"},
            "date": datetime(2024, 5, 1, 9, 30),
            "difficulty": 1 + self.needed % 3,
            "scenario": f"toy{self.needed}",
            "apps": ["toy"],
        }
        messages: list[Message] = [
            {"role": "system", "content": "You operate a toy app."},
            {"role": "user", "content": info["instruction"]},
        ]
        return messages, info

    def step(self, action: str) -> StepResult:
        if self.step_delay_s:
            time.sleep(self.step_delay_s)
        if self.fail_on_turn is not None and self.steps == self.fail_on_turn:
            raise RuntimeError("toy env failure on purpose")
        self.steps += 1
        calls = [{"app": "toy", "api": "step", "args": {}, "status": 200, "ok": True}]
        if "complete_task" in action:
            success = self.steps > self.needed
            calls = [{"app": "supervisor", "api": "complete_task", "args": {}, "status": 200, "ok": True}]
            checks = [{"name": "enough_steps", "passed": success, "detail": f"{self.steps - 1} of {self.needed} steps"}]
            info = {"api_calls": calls, "error": False, "success": success, "checks": checks, "answer": None}
            return StepResult("Execution successful.", 1.0 if success else 0.0, True, False, info)
        text = "ready" if self.steps >= self.needed else self.observation
        return StepResult(text, 0.0, False, False, {"api_calls": calls, "error": False})

    def evaluate(self) -> dict[str, Any]:
        progress = min(self.steps, self.needed) / self.needed if self.needed else 1.0
        return {"reward": 0.5 * progress, "success": False, "checks": [{"name": "completed", "passed": False, "detail": "not completed"}]}

    def close(self) -> None:
        self.closed = True
