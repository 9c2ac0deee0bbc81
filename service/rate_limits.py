"""Rate limits: per key, per client address, for unknown keys, and a batch budget.

Token buckets held in memory by each server process (each uvicorn worker of each
replica counts on its own; a client spread over N processes gets up to N times the
budget). Four budgets, each refilling continuously at a rate up to a burst:

- every request of an address (``TARVE_RATE_LIMIT_ADDRESS_*``);
- every request with a key, per key (``TARVE_RATE_LIMIT_KEY_*``);
- requests with an unknown, revoked or malformed key, per address
  (``TARVE_RATE_LIMIT_AUTH_FAILURES_*``): the cheaper path. Each 401 answered to a
  request that sent a key is charged; while the address has spent this budget, its
  requests with any key not seen to authenticate lately are answered 429 before any
  database work (a malformed key never costs a query in any case);
- clients in batch calls, per key (``TARVE_RATE_LIMIT_BATCH_CLIENTS_*``): a batch of
  1,000 costs 1,000, counted from the screened body before the route sees it.

Over a budget: 429 ``rate-limited`` with ``Retry-After`` (whole seconds until the
bucket holds enough again). ``/healthz`` is never limited. Keys are told apart by
their SHA-256 (never kept in clear); buckets that have refilled are dropped when the
table grows past :data:`MAX_BUCKETS`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.auth import KEY_PATTERN, hash_key, token_from_headers
from service.problems import RateLimited
from service.request_guard import replay_body, send_problem

MAX_BUCKETS = 50_000
# How long a key that authenticated stays "known good" for the unknown-key gate.
KNOWN_KEY_SECONDS = 300.0
# Batch bodies larger than this are parsed (to count clients) in the thread pool.
INLINE_PARSE_BYTES = 64 * 1024
EXEMPT_PATHS = frozenset({"/healthz"})
MSG_ADDRESS = "too many requests from this address; retry in {seconds} s"
MSG_KEY = "too many requests with this key; retry in {seconds} s"
MSG_AUTH_FAILURES = (
    "too many requests with unknown or invalid keys from this address; retry in {seconds} s"
)
MSG_BATCH = (
    "this key's batch budget ({rate:g} clients a minute) is spent: the batch of {cost} "
    "clients can be sent in {seconds} s"
)


@dataclass(frozen=True)
class Budget:
    """A token bucket's shape: ``rate`` tokens a second, holding at most ``burst``."""

    rate: float
    burst: float


class TokenBuckets:
    """Token buckets by name (an address, a key's hash), in memory, for one event loop."""

    def __init__(self, budget: Budget, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, when)

    def _level(self, name: str, now: float) -> float:
        tokens, when = self._buckets.get(name, (self.budget.burst, now))
        return min(self.budget.burst, tokens + (now - when) * self.budget.rate)

    def take(self, name: str, cost: float = 1.0) -> int:
        """Take ``cost`` tokens; return 0 when taken, else seconds to wait (nothing taken)."""
        now = self.clock()
        level = self._level(name, now)
        cost = min(cost, self.budget.burst)
        if level >= cost:
            self._store(name, level - cost, now)
            return 0
        return max(1, math.ceil((cost - level) / self.budget.rate))

    def charge(self, name: str, cost: float = 1.0) -> None:
        """Take ``cost`` tokens even when fewer are left (the level may go below zero)."""
        now = self.clock()
        self._store(name, max(-self.budget.burst, self._level(name, now) - cost), now)

    def wait(self, name: str) -> int:
        """Seconds until ``name`` holds a token again (0: it holds one now)."""
        level = self._level(name, self.clock())
        return 0 if level >= 1 else max(1, math.ceil((1 - level) / self.budget.rate))

    def __len__(self) -> int:
        """Return how many buckets are held."""
        return len(self._buckets)

    def _store(self, name: str, tokens: float, now: float) -> None:
        if name not in self._buckets and len(self._buckets) >= MAX_BUCKETS:
            self._prune(now)
        self._buckets[name] = (tokens, now)

    def _prune(self, now: float) -> None:
        """Drop the buckets that have refilled (they equal absent ones); else all."""
        full = [name for name in self._buckets if self._level(name, now) >= self.budget.burst]
        for name in full:
            del self._buckets[name]
        if len(self._buckets) >= MAX_BUCKETS:
            self._buckets.clear()


@dataclass(frozen=True)
class RateLimitPolicy:
    """The four budgets (see the module docstring)."""

    address: Budget
    key: Budget
    auth_failures: Budget
    batch_clients: Budget


class RateLimiter:
    """The budgets' buckets and the keys seen to authenticate lately."""

    def __init__(
        self, policy: RateLimitPolicy, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.addresses = TokenBuckets(policy.address, clock=clock)
        self.keys = TokenBuckets(policy.key, clock=clock)
        self.auth_failures = TokenBuckets(policy.auth_failures, clock=clock)
        self.batch_clients = TokenBuckets(policy.batch_clients, clock=clock)
        self._known: dict[str, float] = {}  # key hash -> until when it counts as known

    def is_known(self, digest: str) -> bool:
        """Whether the key with this hash authenticated within :data:`KNOWN_KEY_SECONDS`."""
        until = self._known.get(digest)
        return until is not None and until >= self.clock()

    def remember(self, digest: str) -> None:
        """Note that the key with this hash authenticated just now."""
        now = self.clock()
        if digest not in self._known and len(self._known) >= MAX_BUCKETS:
            self._known = {name: until for name, until in self._known.items() if until >= now}
            if len(self._known) >= MAX_BUCKETS:
                self._known.clear()
        self._known[digest] = now + KNOWN_KEY_SECONDS

    def forget(self, digest: str) -> None:
        """Stop counting the key with this hash as known (it was refused)."""
        self._known.pop(digest, None)


def client_address(scope: Scope) -> str:
    """Return the caller's address (the proxy's forwarded one when uvicorn trusts it)."""
    client = scope.get("client")
    return str(client[0]) if client else "-"


class RateLimitMiddleware:
    """Per-address, per-key and unknown-key limits, before the body is read."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, on_limited: Callable[[str], None]):
        self.app = app
        self.limiter = limiter
        self.on_limited = on_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the call with 429 when over a budget, else pass it on and watch its answer."""
        if scope["type"] != "http" or scope.get("path", "") in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        limiter = self.limiter
        address = client_address(scope)
        headers = {key.lower(): value for key, value in scope.get("headers", [])}
        token = token_from_headers(headers)
        digest = None if token is None else hash_key(token)
        scope.setdefault("state", {})["rate_limit_key"] = digest
        problem = self._refusal(address, token, digest)
        if problem is not None:
            await send_problem(scope, send, problem)
            return
        status = 0

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            if digest is not None:
                state = scope["state"]
                if state.get("principal") is not None or state.get("authenticated"):
                    limiter.remember(digest)
                elif status == 401:
                    limiter.forget(digest)
                    limiter.auth_failures.charge(address)

    def _refusal(self, address: str, token: str | None, digest: str | None) -> RateLimited | None:
        limiter = self.limiter
        if digest is not None and not limiter.is_known(digest):
            seconds = limiter.auth_failures.wait(address)
            if seconds:
                self.on_limited("auth_failures")
                return RateLimited(MSG_AUTH_FAILURES.format(seconds=seconds), retry_after=seconds)
        seconds = limiter.addresses.take(address)
        if seconds:
            self.on_limited("address")
            return RateLimited(MSG_ADDRESS.format(seconds=seconds), retry_after=seconds)
        if digest is not None and token is not None and KEY_PATTERN.match(token):
            seconds = limiter.keys.take(digest)
            if seconds:
                self.on_limited("key")
                return RateLimited(MSG_KEY.format(seconds=seconds), retry_after=seconds)
        return None


def count_clients(body: bytes) -> int:
    """Return how many clients a batch body holds (0 when it is not a batch at all)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return 0
    clients = parsed.get("clients") if isinstance(parsed, dict) else None
    return len(clients) if isinstance(clients, list) else 0


class BatchBudgetMiddleware:
    """A key's budget of batch clients: charged from the (screened, buffered) body.

    Sits inside the request guard, which has read the whole body and hands it on in one
    message. Charged before the key is checked (a key's first call too); an unknown
    key's bucket is never used again and is pruned with the others.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        batch_paths: tuple[str, ...],
        on_limited: Callable[[str], None],
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.batch_paths = frozenset(batch_paths)
        self.on_limited = on_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Charge a batch's clients to its key (429 when the budget is spent), pass it on."""
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or scope.get("path", "") not in self.batch_paths
        ):
            await self.app(scope, receive, send)
            return
        message = await receive()
        body = message.get("body", b"")
        chunks = [body]
        while message.get("more_body", False):
            message = await receive()
            chunks.append(message.get("body", b""))
        body = b"".join(chunks)
        digest = scope.get("state", {}).get("rate_limit_key")
        if digest is not None:
            if len(body) > INLINE_PARSE_BYTES:
                cost = await run_in_threadpool(count_clients, body)
            else:
                cost = count_clients(body)
            seconds = self.limiter.batch_clients.take(digest, cost) if cost else 0
            if seconds:
                self.on_limited("batch_clients")
                rate = self.limiter.policy.batch_clients.rate * 60
                detail = MSG_BATCH.format(rate=rate, cost=cost, seconds=seconds)
                await send_problem(scope, send, RateLimited(detail, retry_after=seconds))
                return
        await self.app(scope, replay_body(body, receive), send)
