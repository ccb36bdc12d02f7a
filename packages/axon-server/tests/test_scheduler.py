"""The step-level continuous scheduler: a sequence submitted while another decodes joins at the
next step (its first token arrives before the running one finishes), each stream equals the
runtime's ``generate`` run alone, a cancelled sequence frees its slot, a full queue refuses."""

from __future__ import annotations

import asyncio

import pytest

from axon_quant.runtime import SamplingParams, generate
from axon_server.engine import GGUFGenerator, QueueFullError, Scheduler, Sequence

GREEDY = SamplingParams(greedy=True)


@pytest.fixture(scope="module")
def scheduler(paths):
    generator = GGUFGenerator(paths["smol"], slots=2, max_ctx=256, threads=1)
    s = Scheduler(generator, max_queue=1)
    s.start()
    yield s
    s.stop()
    generator.close()


def sequence(generator, index, prompt, max_tokens, queue):
    ids = generator.encode_text(prompt)
    return Sequence(index, ids, max_tokens, GREEDY, (), None, asyncio.get_running_loop(), queue)


async def drain(queue, count):
    """Events in arrival order until ``count`` sequences finished."""
    events, done = [], 0
    while done < count:
        event = await asyncio.wait_for(queue.get(), 60)
        events.append(event)
        done += event.finish_reason is not None
    return events


def test_a_late_request_joins_the_running_batch(scheduler, oracle_model):
    model, tok = oracle_model
    prompts = ["The three primary colors are", "Once upon a time"]
    solo = [generate(model, tok, p, max_tokens=n) for p, n in zip(prompts, (24, 6))]

    async def run():
        queue = asyncio.Queue()
        gen = scheduler.generator
        scheduler.submit([sequence(gen, 0, prompts[0], 24, queue)])
        first = [await asyncio.wait_for(queue.get(), 60) for _ in range(3)]
        scheduler.submit([sequence(gen, 1, prompts[1], 6, queue)])
        return first + await drain(queue, 2)

    events = asyncio.run(run())
    order = [e.index for e in events]
    assert order.index(1) < max(i for i, e in enumerate(events) if e.index == 0)  # joined mid-run
    for i, ref in enumerate(solo):
        mine = [e for e in events if e.index == i]
        assert [e.token for e in mine if e.token is not None] == ref.tokens
        assert "".join(e.text for e in mine) == ref.text
        assert mine[-1].completion_tokens == len(ref.tokens)
    assert scheduler.max_active_seen == 2


def test_cancel_frees_the_slot_at_the_next_step(scheduler):
    async def run():
        queue = asyncio.Queue()
        seqs = [sequence(scheduler.generator, i, "Count: one, two,", 200, queue) for i in range(2)]
        scheduler.submit(seqs)
        while (await asyncio.wait_for(queue.get(), 60)).index != 0:
            pass
        before = scheduler.stats["cancelled"]
        for s in seqs:
            s.cancel()
        events = await drain(queue, 2)
        return [e for e in events if e.finish_reason], before

    finals, before = asyncio.run(run())
    assert sorted(e.finish_reason for e in finals) == ["cancelled", "cancelled"]
    assert all(e.completion_tokens < 200 for e in finals)
    assert scheduler.stats["cancelled"] == before + 2
    assert scheduler.active == 0 and scheduler.waiting == 0


def test_queue_bound_counts_waiting_sequences(scheduler):
    async def run():
        queue = asyncio.Queue()
        gen = scheduler.generator
        busy = [sequence(gen, i, "Hello", 50, queue) for i in range(2)]
        scheduler.submit(busy)
        await asyncio.wait_for(queue.get(), 60)  # both slots are taken once a token came
        scheduler.submit([sequence(gen, 2, "Hi", 1, queue)])  # waits: both slots are busy
        with pytest.raises(QueueFullError):
            scheduler.submit([sequence(gen, 3, "Hi", 1, queue)])
        for s in busy:
            s.cancel()
        events = await drain(queue, 3)
        return [e.finish_reason for e in events if e.finish_reason]

    assert sorted(asyncio.run(run())) == ["cancelled", "cancelled", "length"]
