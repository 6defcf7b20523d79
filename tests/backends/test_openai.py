"""OpenAIChatBackend against a scripted fake server on 127.0.0.1: retries on 429 (honouring
Retry-After) and 5xx with backoff, timeouts, no retry on other 4xx, the concurrency limit, and
token/cost accounting."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from looprl.backends.base import SamplingParams
from looprl.backends.openai import DEFAULT_PRICES, OpenAIChatBackend, price_for, retry_after_seconds

CHAT = [{"role": "user", "content": "What is 2+2?"}]


class FakeOpenAI:
    """Answers /chat/completions from a script of (status, headers, delay_s) steps, then with 200s."""

    def __init__(self, script=(), delay=0.0):
        self.script = list(script)
        self.delay = delay
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with fake.lock:
                    fake.requests.append(body)
                    fake.headers.append(dict(self.headers))
                    step = fake.script.pop(0) if fake.script else (200, {}, fake.delay)
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                status, headers, delay = step
                counted = True
                try:
                    time.sleep(delay)
                    if status == 200:
                        n = len(body["messages"][-1]["content"])
                        payload = {
                            "choices": [{"message": {"role": "assistant", "content": f"echo:{body['messages'][-1]['content']}"}}],
                            "usage": {"prompt_tokens": 100 + n, "completion_tokens": 10},
                        }
                    else:
                        payload = {"error": {"message": f"scripted {status}"}}
                    data = json.dumps(payload).encode()
                    # the request stops counting as in flight before its answer is written: once the
                    # client has read it, it may send the next one before this thread runs again
                    with fake.lock:
                        fake.in_flight -= 1
                        counted = False
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    if counted:
                        with fake.lock:
                            fake.in_flight -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    servers = []

    def make(script=(), delay=0.0):
        servers.append(FakeOpenAI(script, delay))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def backend(server, sleeps, **kw):
    kw.setdefault("backoff_base", 0.5)
    return OpenAIChatBackend("gpt-4o", base_url=server.url, sleep=sleeps.append, **kw)


def test_429_honours_retry_after_then_succeeds(fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    server = fake([(429, {"Retry-After": "3"}, 0.0)])
    sleeps: list[float] = []
    b = backend(server, sleeps)
    [result] = b.chat([CHAT], SamplingParams(temperature=0.0, max_new_tokens=50))
    assert result.text == "echo:What is 2+2?"
    assert sleeps == [3.0]
    assert len(server.requests) == 2
    assert server.headers[0]["Authorization"] == "Bearer sk-test"
    assert server.requests[0]["max_tokens"] == 50 and server.requests[0]["temperature"] == 0.0
    assert b.usage()["retries"] == 1 and b.usage()["requests"] == 1


def test_5xx_backs_off_exponentially(fake):
    server = fake([(500, {}, 0.0), (503, {}, 0.0), (502, {}, 0.0)])
    sleeps: list[float] = []
    [result] = backend(server, sleeps, backoff_base=1.0, backoff_max=100.0).chat([CHAT], SamplingParams())
    assert result.text.startswith("echo:")
    assert len(sleeps) == 3
    for attempt, s in enumerate(sleeps):
        assert 0.75 * 2**attempt <= s <= 1.25 * 2**attempt
    capped: list[float] = []
    backend(fake([(500, {}, 0.0)] * 3), capped, backoff_base=1.0, backoff_max=1.5).chat([CHAT], SamplingParams())
    assert max(capped) <= 1.5


def test_gives_up_after_max_retries_naming_the_last_error(fake):
    server = fake([(500, {}, 0.0)] * 10)
    sleeps: list[float] = []
    with pytest.raises(RuntimeError, match="gave up after 3 attempts; last: HTTP 500"):
        backend(server, sleeps, max_retries=2).chat([CHAT], SamplingParams())
    assert len(server.requests) == 3 and len(sleeps) == 2


def test_other_4xx_fail_at_once(fake):
    server = fake([(400, {}, 0.0)])
    sleeps: list[float] = []
    with pytest.raises(RuntimeError, match="HTTP 400: .*scripted 400"):
        backend(server, sleeps).chat([CHAT], SamplingParams())
    assert len(server.requests) == 1 and sleeps == []


def test_timeouts_are_retried_then_reported(fake):
    server = fake([(200, {}, 1.0)])  # the first answer comes too late
    sleeps: list[float] = []
    [result] = backend(server, sleeps, timeout=0.3).chat([CHAT], SamplingParams())
    assert result.text.startswith("echo:") and len(sleeps) == 1
    slow = fake([(200, {}, 1.0)] * 3)
    with pytest.raises(RuntimeError, match="last: timeout after 0.3s"):
        backend(slow, [], timeout=0.3, max_retries=1).chat([CHAT], SamplingParams())


def test_concurrency_limit_and_order(fake):
    server = fake(delay=0.2)
    chats = [[{"role": "user", "content": f"q{i}"}] for i in range(6)]
    b = backend(server, [], concurrency=2)
    results = b.chat(chats, SamplingParams())
    assert [r.text for r in results] == [f"echo:q{i}" for i in range(6)]
    assert server.max_in_flight == 2
    # the limit holds across threads sharing the backend, too
    threads = [threading.Thread(target=b.chat, args=(chats[:3], SamplingParams())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server.max_in_flight == 2


def test_usage_and_cost_accounting(fake):
    server = fake()
    b = backend(server, [], prices={"my-model": (1.0, 2.0)})
    results = b.chat([CHAT, [{"role": "user", "content": "hi"}]], SamplingParams())
    assert [(r.prompt_tokens, r.completion_tokens) for r in results] == [(112, 10), (102, 10)]
    inp, out = DEFAULT_PRICES["gpt-4o"]
    assert results[0].cost_usd == pytest.approx((112 * inp + 10 * out) / 1e6)
    totals = b.usage()
    assert totals["prompt_tokens"] == 214 and totals["completion_tokens"] == 20 and totals["requests"] == 2
    assert totals["cost_usd"] == pytest.approx(sum(r.cost_usd for r in results)) and totals["priced"]

    custom = OpenAIChatBackend("my-model", base_url=server.url, prices={"my-model": (1.0, 2.0)})
    [r] = custom.chat([CHAT], SamplingParams())
    assert r.cost_usd == pytest.approx((112 * 1.0 + 10 * 2.0) / 1e6)
    unpriced = OpenAIChatBackend("local-llama", base_url=server.url)
    [r] = unpriced.chat([CHAT], SamplingParams())
    assert r.cost_usd == 0.0 and not unpriced.usage()["priced"]


def test_price_lookup_and_retry_after_parsing():
    assert price_for("gpt-4o-2024-08-06", DEFAULT_PRICES) == DEFAULT_PRICES["gpt-4o"]
    assert price_for("gpt-4o-mini-2024-07-18", DEFAULT_PRICES) == DEFAULT_PRICES["gpt-4o-mini"]
    assert price_for("o1-preview", DEFAULT_PRICES) == DEFAULT_PRICES["o1"]
    assert price_for("gpt-4", DEFAULT_PRICES) is None
    assert retry_after_seconds("2.5") == 2.5 and retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    from email.utils import formatdate

    assert 5 <= retry_after_seconds(formatdate(time.time() + 10, usegmt=True)) <= 11


def test_reasoning_models_get_max_completion_tokens(fake):
    server = fake()
    OpenAIChatBackend("o1", base_url=server.url).chat([CHAT], SamplingParams(temperature=0.0, max_new_tokens=77, seed=4))
    body = server.requests[0]
    assert body["max_completion_tokens"] == 77 and "temperature" not in body and "max_tokens" not in body
    assert body["seed"] == 4


def test_missing_key_for_openai_is_named(monkeypatch):
    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(RuntimeError, match="set MY_KEY"):
        OpenAIChatBackend("gpt-4o", api_key_env="MY_KEY")
