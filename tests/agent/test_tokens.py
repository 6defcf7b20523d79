"""Token-exact trajectories: template deltas, the trainable mask, equality with apply_chat_template."""

from __future__ import annotations

import pytest

from looprl.agent import ChatTokens, Scaffold, TemplateError, TokenStream
from looprl.testing import CharTokenizer

# A Qwen2.5-style template: injects a default system prompt when the chat has none.
DEFAULT_SYSTEM_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a default assistant.<|im_end|>\n' }}{% endif %}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

INFO = {
    "instruction": "Count my notes.",
    "supervisor": {"first_name": "A", "last_name": "B", "email": "a@b.c", "phone_number": "1"},
    "date": "2024-01-01",
}


def _template_ids(tokenizer, messages, **kw):
    out = tokenizer.apply_chat_template(messages, tokenize=True, **kw)
    return list(out["input_ids"] if hasattr(out, "keys") else out)


def _episode(chat: ChatTokens, messages, replies, observations):
    """Build a stream the way the collector does, with 'sampled' ids = tokenization of the reply + stop."""
    stream = TokenStream()
    stream.add_context(chat.prompt_ids(messages), turn=-1)
    history = list(messages)
    sampled_spans = []
    stop = chat.stop_token_ids[0]
    for turn, (reply, obs) in enumerate(zip(replies, observations)):
        ids = chat.encode(reply) + [stop]
        start = len(stream)
        stream.add_sampled(ids, [-0.1] * len(ids), turn)
        sampled_spans.append((start, len(stream)))
        history.append({"role": "assistant", "content": chat.decode(ids)})
        message = {"role": "user", "content": obs}
        stream.add_context(chat.between_turns_ids(history, ids, message), turn)
        history.append(message)
    return stream, history, sampled_spans


@pytest.fixture(scope="module")
def hf_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


REPLIES = ["Let me look.\n```python\nprint(apis.api_docs.show_app_descriptions())\n```", " answer = 42\n", "apis.supervisor.complete_task(answer=42)"]
OBSERVATIONS = ["[{'name': 'notes'}]", "", "Execution successful. {x}"]


@pytest.mark.parametrize("template", ["chatml", "default_system"])
def test_ids_equal_template_of_whole_conversation(hf_tokenizer, template):
    tok = hf_tokenizer
    if template == "default_system":
        import copy

        tok = copy.deepcopy(hf_tokenizer)
        tok.chat_template = DEFAULT_SYSTEM_TEMPLATE
    chat = ChatTokens(tok)
    for opening in (Scaffold().initial_messages([], INFO), [{"role": "user", "content": "hi"}]):
        stream, history, spans = _episode(chat, opening, REPLIES, OBSERVATIONS)
        assert stream.token_ids == _template_ids(tok, history, add_generation_prompt=True)
        expected_default = template == "default_system" and opening[0]["role"] != "system"
        assert tok.decode(stream.token_ids).count("You are a default assistant.") == int(expected_default)


def test_trainable_exactly_the_sampled_tokens(hf_tokenizer):
    chat = ChatTokens(hf_tokenizer)
    stream, _, spans = _episode(chat, [{"role": "user", "content": "hi"}], REPLIES, OBSERVATIONS)
    sampled = {i for a, b in spans for i in range(a, b)}
    assert [i for i, t in enumerate(stream.trainable) if t] == sorted(sampled)
    im_end = hf_tokenizer.convert_tokens_to_ids("<|im_end|>")
    for _, b in spans:  # each turn's stop token is trainable and closes the span
        assert stream.token_ids[b - 1] == im_end and stream.trainable[b - 1]
    assert all(lp == 0.0 for lp, t in zip(stream.logprobs, stream.trainable) if not t)
    assert set(stream.turn_ids[: spans[0][0]]) == {-1}
    for turn, (a, b) in enumerate(spans):
        assert set(stream.turn_ids[a:b]) == {turn}


def test_stop_ids_and_closing_text(hf_tokenizer):
    chat = ChatTokens(hf_tokenizer)
    im_end = hf_tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert im_end in chat.stop_token_ids
    assert chat.turn_close_text([5, im_end]) == "\n"
    # cut by the token limit: the template's whole closing is added (not trainable)
    assert chat.turn_close_text([5, 6]) == "<|im_end|>\n"


def test_generation_cut_by_length_still_matches_template(hf_tokenizer):
    chat = ChatTokens(hf_tokenizer)
    opening = [{"role": "user", "content": "hi"}]
    stream = TokenStream()
    stream.add_context(chat.prompt_ids(opening), -1)
    ids = chat.encode("print(1")  # no stop token: the sampler hit max_new_tokens
    stream.add_sampled(ids, [0.0] * len(ids), 0)
    history = [*opening, {"role": "assistant", "content": chat.decode(ids)}]
    obs = {"role": "user", "content": "SyntaxError"}
    stream.add_context(chat.between_turns_ids(history, ids, obs), 0)
    assert stream.token_ids == _template_ids(hf_tokenizer, [*history, obs], add_generation_prompt=True)
    assert sum(stream.trainable) == len(ids)


def test_template_that_rewrites_history_falls_back_to_neutral_delta():
    class Rewriting(CharTokenizer):
        # drops the content of earlier assistant turns once a later message exists (like reasoning-stripping templates)
        def apply_chat_template(self, messages, tokenize=True, add_generation_prompt=False, **kw):
            msgs = [dict(m) for m in messages]
            for m in msgs[:-1]:
                if m["role"] == "assistant":
                    m["content"] = m["content"].split("</think>")[-1]
            return super().apply_chat_template(msgs, tokenize, add_generation_prompt)

    chat = ChatTokens(Rewriting())
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>hm</think>code"}]
    text = chat.observation_text(history, {"role": "user", "content": "out"})
    assert text == "<|im_start|>user\nout<|im_end|>\n<|im_start|>assistant\n"


def test_truncate_observation(hf_tokenizer):
    chat = ChatTokens(hf_tokenizer)
    long = "0 1 2 3 4 5 6 7 8 9 " * 200
    cut = chat.truncate(long, 50)
    assert "[output truncated: showing 50 of" in cut
    assert chat.count(cut.split("\n[output truncated")[0]) <= 50
    assert chat.truncate("short", 50) == "short"


def test_tokenizer_without_template_is_rejected():
    class NoTemplate(CharTokenizer):
        chat_template = None

    with pytest.raises(TemplateError, match="no chat_template"):
        ChatTokens(NoTemplate())


def test_sampled_logprob_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="turn 3: 2 sampled ids but 1 logprobs"):
        TokenStream().add_sampled([1, 2], [0.0], 3)
