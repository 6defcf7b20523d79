"""Chat -> token ids with a trainable mask, without ever re-tokenizing what the sampler produced.

An episode's token stream is built piece by piece:

* the opening prompt: the chat template rendered for the opening messages with the generation
  prompt (e.g. "...<|im_start|>assistant\\n"), tokenized once;
* each agent turn: exactly the ids the sampler returned (stop token included), trainable, with the
  sampler's logprobs;
* between turns: the template's text that closes the assistant message after its stop token (e.g.
  "\\n" after <|im_end|>; the whole "<|im_end|>\\n" when generation was cut by the token limit) and
  the observation "<|im_start|>user\\n...<|im_end|>\\n<|im_start|>assistant\\n". Both are found by
  rendering the template for the conversation with and without the new piece and taking the
  difference of the two strings, so templates that inject a default system prompt or dates render
  those once, in the opening prompt, and never again.

Guarantee: for a tokenizer whose tokenization of the rendered conversation splits at message
boundaries (ChatML-style templates with special tokens do), the ids equal
`apply_chat_template(whole conversation)` when the sampled ids equal the tokenization of their text.
The tests check that, and that `trainable` is True exactly at the sampled positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from looprl.env.base import Message

_SENTINEL = "\u2063LOOPRL_SENTINEL\u2063"


class TemplateError(ValueError):
    """The tokenizer's chat template cannot be rendered incrementally the way the collector needs."""


class ChatTokens:
    """Renders and tokenizes chat pieces with one tokenizer's chat template."""

    def __init__(self, tokenizer: Any):
        if getattr(tokenizer, "chat_template", None) is None:  # why: an HF tokenizer attribute that slow/custom tokenizers may lack
            raise TemplateError(f"tokenizer {type(tokenizer).__name__} has no chat_template; token-level rollouts need one")
        self.tokenizer = tokenizer
        self._close_text = self._assistant_close_text()
        self.stop_token_ids = self._stop_token_ids()

    # -- rendering ---------------------------------------------------------------------------------
    def render(self, messages: Sequence[Message], *, add_generation_prompt: bool) -> str:
        text = self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=add_generation_prompt)
        if not isinstance(text, str):
            raise TemplateError(f"apply_chat_template(tokenize=False) returned {type(text).__name__}, expected str")
        return text

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def _assistant_close_text(self) -> str:
        """The template's text after an assistant message's content (e.g. "<|im_end|>\\n")."""
        probe = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": _SENTINEL}]
        text = self.render(probe, add_generation_prompt=False)
        at = text.rfind(_SENTINEL)
        if at < 0:
            raise TemplateError("the chat template does not render the assistant message's content verbatim")
        return text[at + len(_SENTINEL) :]

    def _stop_token_ids(self) -> tuple[int, ...]:
        """Ids that end an agent turn: the eos token and the special token that closes assistant messages."""
        ids: list[int] = []
        eos = getattr(self.tokenizer, "eos_token_id", None)  # why: HF tokenizers without an eos token have none
        if isinstance(eos, int):
            ids.append(eos)
        elif isinstance(eos, (list, tuple)):
            ids.extend(int(i) for i in eos)
        close = self._close_text.strip()
        if close:
            first = self.encode(close)
            special = set(getattr(self.tokenizer, "all_special_ids", []))  # why: HF tokenizers have it, minimal test tokenizers may not
            if first and self.tokenizer.decode([first[0]]) and first[0] in special:
                ids.append(first[0])
        return tuple(dict.fromkeys(ids))

    # -- pieces --------------------------------------------------------------------------------------
    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """The opening prompt, generation prompt included."""
        return self.encode(self.render(messages, add_generation_prompt=True))

    def turn_close_text(self, generated_ids: Sequence[int]) -> str:
        """Template text still needed to close an assistant message whose sampled ids are `generated_ids`."""
        close = self._close_text
        if generated_ids and generated_ids[-1] in self.stop_token_ids:
            stop_text = self.tokenizer.decode([generated_ids[-1]])
            if close.startswith(stop_text):
                return close[len(stop_text) :]
        return close

    def observation_text(self, history: Sequence[Message], message: Message) -> str:
        """Template text of `message` (a user/tool turn) after `history` (which ends with the assistant
        turn), generation prompt included. Found as the difference of two renderings."""
        with_assistant = self.render(history, add_generation_prompt=False)
        with_obs = self.render([*history, message], add_generation_prompt=True)
        if with_obs.startswith(with_assistant):
            return with_obs[len(with_assistant) :]
        # Some templates rewrite earlier turns (e.g. drop reasoning from past assistant messages); the
        # tokens already in the stream cannot change, so render the delta in a neutral context instead.
        probe = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]
        base = self.render(probe, add_generation_prompt=False)
        full = self.render([*probe, message], add_generation_prompt=True)
        if not full.startswith(base):
            raise TemplateError("the chat template's rendering of a conversation is not a prefix of its rendering with one more message")
        return full[len(base) :]

    def between_turns_ids(self, history: Sequence[Message], generated_ids: Sequence[int], message: Message) -> list[int]:
        """Non-trainable ids between one agent turn's sampled ids and the next agent turn."""
        return self.encode(self.turn_close_text(generated_ids) + self.observation_text(history, message))

    # -- an episode, piece by piece: the one way rollouts (looprl.rollout.collector) and SFT-GT chats
    # (looprl.training.sft_data) grow a chat and its token stream together --------------------------
    def start(self, stream: "TokenStream", messages: Sequence[Message]) -> None:
        """The opening prompt of `messages` into an empty `stream` (turn -1, not trainable)."""
        stream.add_context(self.prompt_ids(messages), turn=-1)

    def add_reply(self, stream: "TokenStream", messages: list[Message], ids: Sequence[int], logprobs: Sequence[float], turn: int) -> str:
        """One agent turn: its ids (trainable, with their logprobs) into `stream`, and their text, as
        the assistant message, onto `messages`. Returns the text."""
        stream.add_sampled(ids, logprobs, turn=turn)
        text = self.decode(ids)
        messages.append({"role": "assistant", "content": text})
        return text

    def add_observation(
        self, stream: "TokenStream", messages: list[Message], reply_ids: Sequence[int], message: Message, turn: int, max_tokens: int | None = None
    ) -> bool:
        """The env's answer `message` to the agent turn whose ids were `reply_ids`: the template's text
        between the two turns into `stream` (not trainable, in the turn that caused it) and `message`
        onto `messages`. False, and nothing added, when the stream would reach `max_tokens` (no room
        left to sample)."""
        ids = self.between_turns_ids(messages, reply_ids, message)
        if max_tokens is not None and len(stream) + len(ids) >= max_tokens:
            return False
        messages.append(message)
        stream.add_context(ids, turn=turn)
        return True

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def truncate(self, text: str, max_tokens: int) -> str:
        """`text` cut to `max_tokens` tokens (at a token boundary) with a note saying so; unchanged if it
        fits (looprl.env.wrappers.truncate_observation with this tokenizer)."""
        from looprl.env.wrappers import truncate_observation

        return truncate_observation(text, max_tokens, self.tokenizer)


@dataclass
class TokenStream:
    """The per-token arrays of one episode, appended to as it runs (fills Trajectory's token fields)."""

    token_ids: list[int] = field(default_factory=list)
    trainable: list[bool] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    turn_ids: list[int] = field(default_factory=list)

    def add_context(self, ids: Sequence[int], turn: int) -> None:
        """Prompt or environment tokens: not trainable; turn -1 for the opening prompt."""
        self.token_ids.extend(ids)
        self.trainable.extend([False] * len(ids))
        self.logprobs.extend([0.0] * len(ids))
        self.turn_ids.extend([turn] * len(ids))

    def add_sampled(self, ids: Sequence[int], logprobs: Sequence[float], turn: int) -> None:
        if len(ids) != len(logprobs):
            raise ValueError(f"turn {turn}: {len(ids)} sampled ids but {len(logprobs)} logprobs")
        self.token_ids.extend(ids)
        self.trainable.extend([True] * len(ids))
        self.logprobs.extend(float(x) for x in logprobs)
        self.turn_ids.extend([turn] * len(ids))

    def __len__(self) -> int:
        return len(self.token_ids)
