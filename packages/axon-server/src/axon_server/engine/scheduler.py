"""The decode scheduler: one thread per generation model that runs every admitted sequence one
token per step, admitting waiting sequences into free slots at each step boundary (continuous
batching at the step level), so a new request never waits for a running one to finish.

The axon-quant runtime decodes one sequence per forward (its static arena holds one token's
activations), so a step runs each active slot's forward in turn; the sequences share the mmap'd
weights and the thread, not one matmul. Results go back to the asyncio side through
``loop.call_soon_threadsafe``; a sequence whose ``cancel()`` was called (client gone) is dropped at
the next step boundary and its slot freed.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import deque
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field

import numpy as np

from axon_quant.runtime import Model, Sampler, SamplingParams, StopStrings
from axon_quant.tokenizer import IncrementalDetokenizer

from .generator import GGUFGenerator

__all__ = ["QueueFullError", "Scheduler", "Sequence", "TokenEvent"]


class QueueFullError(Exception):
    """The scheduler's waiting queue holds ``max_queue`` sequences already."""


@dataclass(frozen=True)
class TokenEvent:
    """What one step produced for sequence ``index``. ``text``: newly final text (may be empty: a
    character still incomplete, or text that may begin a stop string). ``token``: the id (None in
    the last event). ``logprob`` / ``top``: log-softmax of the model's logits at the chosen token
    and the ``top_logprobs`` best (id, logprob), when asked. ``finish_reason``: set in the last
    event: ``"stop"`` (end-of-generation token or stop string), ``"length"`` (max_tokens or the
    context), ``"cancelled"`` or ``"error"`` (then ``error`` says why)."""

    index: int
    text: str = ""
    token: int | None = None
    logprob: float | None = None
    top: tuple[tuple[int, float], ...] = ()
    finish_reason: str | None = None
    completion_tokens: int = 0
    error: str | None = None


@dataclass(eq=False)
class Sequence:
    """One choice to generate: ``prompt`` ids, at most ``max_tokens`` tokens under ``sampling``,
    cut at any of ``stop``. ``logprobs``: None, or how many top alternatives to report (0: only the
    chosen token's). Events go to ``queue`` on ``loop``."""

    index: int
    prompt: list[int]
    max_tokens: int
    sampling: SamplingParams
    stop: tuple[str, ...]
    logprobs: int | None
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.cancelled.set()

    def post(self, event: TokenEvent) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            self.cancelled.set()


class _Running:
    """A sequence in a slot: its model, sampler, context and output state."""

    def __init__(self, seq: Sequence, model: Model, generator: GGUFGenerator):
        self.seq, self.model = seq, model
        self.sampler = Sampler(seq.sampling, generator.vocab_size)
        self.history = np.zeros(model.max_ctx, dtype=np.int32)
        self.history[: len(seq.prompt)] = seq.prompt
        self.length = len(seq.prompt)
        self.detokenizer = IncrementalDetokenizer(generator.tokenizer)
        self.stops = StopStrings(seq.stop)
        self.generated = 0
        model.reset()
        self.logits = model.prefill(self.history[: self.length])


def _logprobs(logits: np.ndarray, token: int, top: int) -> tuple[float, tuple[tuple[int, float], ...]]:
    """log-softmax of ``logits`` [vocab] (in float64) at ``token``, and the ``top`` best ids."""
    x = logits.astype(np.float64)
    shift = x.max()
    log_z = shift + math.log(np.exp(x - shift).sum())
    best: tuple[tuple[int, float], ...] = ()
    if top:
        ids = np.argpartition(-x, top - 1)[:top]
        ids = ids[np.argsort(-x[ids], kind="stable")]
        best = tuple((int(i), float(x[i] - log_z)) for i in ids)
    return float(x[token] - log_z), best


class Scheduler:
    """Runs ``generator``'s sequences on a daemon thread (started by :meth:`start`). ``max_queue``:
    sequences waiting for a slot before :meth:`submit` raises :class:`QueueFullError`."""

    def __init__(self, generator: GGUFGenerator, *, max_queue: int):
        self.generator, self.max_queue = generator, max_queue
        self._waiting: deque[Sequence] = deque()
        self._free: list[Model] = list(generator.models)
        self._active: list[_Running] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"axon-scheduler-{generator.path.name}", daemon=True)
        self.stats = {"admitted": 0, "finished": 0, "cancelled": 0, "failed": 0, "tokens": 0, "steps": 0}
        self.max_active_seen = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=30)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def active(self) -> int:
        return len(self._active)

    def submit(self, sequences: Seq[Sequence]) -> None:
        """Queue ``sequences`` (all or none); QueueFullError when more would wait for a slot than
        ``max_queue`` (sequences that free slots take at once do not count)."""
        with self._cond:
            if len(self._waiting) + len(sequences) > self.max_queue + len(self._free):
                raise QueueFullError(
                    f"{len(self._waiting)} sequences wait for {len(self._free)} free slots "
                    f"(the queue holds {self.max_queue})"
                )
            self._waiting.extend(sequences)
            self._cond.notify_all()

    def _admit(self) -> None:
        while True:
            with self._cond:
                if not self._free or not self._waiting:
                    return
                seq = self._waiting.popleft()
                if seq.cancelled.is_set():
                    self.stats["cancelled"] += 1
                    seq.post(TokenEvent(seq.index, finish_reason="cancelled"))
                    continue
                model = self._free.pop()
            try:
                running = _Running(seq, model, self.generator)
            except Exception as exc:  # a bad prompt fails its request, never the thread
                with self._cond:
                    self._free.append(model)
                self.stats["failed"] += 1
                seq.post(TokenEvent(seq.index, finish_reason="error", error=str(exc)))
                continue
            self.stats["admitted"] += 1
            self._active.append(running)
            self.max_active_seen = max(self.max_active_seen, len(self._active))

    def _release(self, run: _Running) -> None:
        self._active.remove(run)
        with self._cond:
            self._free.append(run.model)

    def _finish(self, run: _Running, reason: str, text: str = "") -> None:
        self._release(run)
        self.stats["cancelled" if reason == "cancelled" else "finished"] += 1
        run.seq.post(TokenEvent(run.seq.index, text=text, finish_reason=reason, completion_tokens=run.generated))

    def _step(self, run: _Running) -> None:
        seq, gen = run.seq, self.generator
        token = run.sampler.sample(run.logits, run.history[: run.length])
        logprob, top = (None, ())
        if seq.logprobs is not None:
            logprob, top = _logprobs(run.logits, token, seq.logprobs)
        if gen.tokenizer.is_eog(token):
            text, _ = run.stops.feed(run.detokenizer.flush())
            self._finish(run, "stop", text + run.stops.held)
            return
        run.history[run.length] = token
        run.length += 1
        run.generated += 1
        self.stats["tokens"] += 1
        text, stopped = run.stops.feed(run.detokenizer.push(token))
        seq.post(TokenEvent(seq.index, text=text, token=token, logprob=logprob, top=top))
        if stopped:
            self._finish(run, "stop")
        elif run.generated == seq.max_tokens or run.model.position >= run.model.max_ctx:
            text, _ = run.stops.feed(run.detokenizer.flush())
            self._finish(run, "length", text + run.stops.held)
        else:
            run.logits = run.model.decode(token)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._waiting and not self._active:
                    self._cond.wait()
                if self._stopping:
                    break
            self._admit()
            self.stats["steps"] += 1
            for run in list(self._active):
                if run.seq.cancelled.is_set():
                    self._finish(run, "cancelled")
                    continue
                try:
                    self._step(run)
                except Exception as exc:
                    self._release(run)
                    self.stats["failed"] += 1
                    run.seq.post(TokenEvent(run.seq.index, finish_reason="error", error=str(exc)))
        for run in list(self._active):
            self._finish(run, "cancelled")
        for seq in self._waiting:
            seq.post(TokenEvent(seq.index, finish_reason="cancelled"))
        self._waiting.clear()
