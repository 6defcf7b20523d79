"""A ChatBackend over any OpenAI-compatible /chat/completions endpoint (OpenAI's GPT-4o and o1,
or a model served by vLLM and the like), for evaluation only: it maps chats to text, never tokens.
It is not a sampler (`PolicyBackend`, looprl/backends/base.py): no token ids, logprobs, adapter or
base-model switch; it samples whatever model the endpoint serves under the name it is given.

Guarantees:

* Each request has a timeout; 429, 5xx, timeouts and connection errors are retried up to
  `max_retries` times with exponential backoff (`backoff_base * 2**attempt`, capped at
  `backoff_max`), waiting what the server's Retry-After header asks for when it sends one. Other
  4xx errors fail at once with the server's message. A request that runs out of retries raises
  RuntimeError naming the model, the last status and the attempts made.
* At most `concurrency` requests are in flight at once, across all threads using this backend.
* Token usage and cost are counted per result and in running totals (`usage()`), from a price
  table in USD per million tokens (input, output), matched by the longest model-name prefix and
  overridable with `prices=`. A model with no price is counted at 0 and reported as unpriced.
* Reasoning models (o1, o3, o4 families) get `max_completion_tokens` and no temperature/top-p,
  which their API rejects.
"""

from __future__ import annotations

import email.utils
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

from looprl.backends.base import ChatResult, SamplingParams

# USD per 1M tokens (input, output), OpenAI list prices (Nov 2026 snapshot; override with prices=).
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o1": (15.00, 60.00),
    "o1-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
}
OPENAI_URL = "https://api.openai.com/v1"
_REASONING_PREFIXES = ("o1", "o3", "o4")
_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def price_for(model: str, prices: dict[str, tuple[float, float]]) -> tuple[float, float] | None:
    """(input, output) USD per 1M tokens for `model`, by exact name or the longest matching prefix."""
    if model in prices:
        return prices[model]
    matches = [name for name in prices if model.startswith(name + "-") or model.startswith(name + ":")]
    return prices[max(matches, key=len)] if matches else None


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header (seconds, or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


class OpenAIChatBackend:
    """Chat completions from an OpenAI-compatible endpoint, with retries, a concurrency limit and cost accounting."""

    concurrent_requests = True  # thread-safe: the collector requests each episode's turn on its own

    def __init__(
        self,
        model: str,
        *,
        base_url: str = OPENAI_URL,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        max_retries: int = 6,
        concurrency: int = 8,
        prices: dict[str, tuple[float, float]] | None = None,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        extra_body: dict[str, Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1; got {concurrency}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0; got {max_retries}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        api_key = os.environ.get(api_key_env)
        if not api_key and self.base_url == OPENAI_URL:
            raise RuntimeError(f"set {api_key_env} to your API key to use {model} at {OPENAI_URL}")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, limits=httpx.Limits(max_connections=concurrency))
        self.max_retries, self.concurrency = max_retries, concurrency
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.prices = {**DEFAULT_PRICES, **(prices or {})}
        self.extra_body = dict(extra_body or {})
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._totals = {"requests": 0, "retries": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}

    # ------------------------------------------------------------------ public
    def chat(self, conversations: Sequence[list[dict[str, str]]], sampling: SamplingParams) -> list[ChatResult]:
        """One completion per conversation, in order; concurrent up to `concurrency`."""
        if len(conversations) <= 1:
            return [self._complete(c, sampling) for c in conversations]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(conversations))) as pool:
            return list(pool.map(lambda c: self._complete(c, sampling), conversations))

    def usage(self) -> dict[str, Any]:
        """Running totals: requests, retries, prompt/completion tokens, cost in USD, whether priced."""
        with self._lock:
            return {**self._totals, "model": self.model, "priced": price_for(self.model, self.prices) is not None}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "OpenAIChatBackend":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _payload(self, messages: list[dict[str, str]], sampling: SamplingParams) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        if self.model.split("/")[-1].startswith(_REASONING_PREFIXES):
            body["max_completion_tokens"] = sampling.max_new_tokens
        else:
            body.update(max_tokens=sampling.max_new_tokens, temperature=sampling.temperature, top_p=sampling.top_p)
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        body.update(self.extra_body)
        return body

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        delay = min(self.backoff_max, self.backoff_base * 2**attempt)
        return delay * (0.75 + 0.5 * random.random()) if delay < self.backoff_max else delay  # jitter spreads out retries

    def _complete(self, messages: list[dict[str, str]], sampling: SamplingParams) -> ChatResult:
        import httpx

        body = self._payload(messages, sampling)
        last = ""
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                with self._slots:
                    response = self._http.post("/chat/completions", json=body)
            except httpx.TimeoutException:
                last = f"timeout after {self._http.timeout.read}s"
            except httpx.TransportError as exc:
                last = f"connection error: {exc}"
            else:
                if response.status_code == 200:
                    return self._account(response.json(), attempt)
                last = f"HTTP {response.status_code}: {response.text[:500]}"
                if response.status_code not in _RETRY_STATUS:
                    raise RuntimeError(f"{self.model} at {self.base_url}: {last}")
                retry_after = retry_after_seconds(response.headers.get("retry-after"))
            if attempt < self.max_retries:
                self._sleep(self._backoff(attempt, retry_after))
        raise RuntimeError(f"{self.model} at {self.base_url}: gave up after {self.max_retries + 1} attempts; last: {last}")

    def _account(self, data: dict[str, Any], retries: int) -> ChatResult:
        choice = (data.get("choices") or [{}])[0]
        text = (choice.get("message") or {}).get("content") or ""
        usage = data.get("usage") or {}
        prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        price = price_for(self.model, self.prices)
        cost = (prompt * price[0] + completion * price[1]) / 1e6 if price else 0.0
        with self._lock:
            t = self._totals
            t["requests"] += 1
            t["retries"] += retries
            t["prompt_tokens"] += prompt
            t["completion_tokens"] += completion
            t["cost_usd"] += cost
        return ChatResult(text=text, prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost, raw=data)
