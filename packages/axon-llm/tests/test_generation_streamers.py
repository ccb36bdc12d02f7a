"""Streamers: deltas never hold half a character, add up to the decoded text, and come out as soon as complete."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np
import pytest

from axon_llm.errors import LLMError
from axon_llm.generation import TextIteratorStreamer, TextStreamer

_spec = importlib.util.spec_from_file_location("_generation_toys", Path(__file__).with_name("test_generation_toys.py"))
_toys = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_toys)
TableLM, random_table = _toys.TableLM, _toys.random_table

TEXT = "héllo wörld, 你好 🎉!\nnext line ✓ end"


class ByteTokenizer:
    """Token ``i`` is the byte ``i``: every non-ASCII character is split across 2-4 tokens."""

    def decode(self, ids, skip_special_tokens=True):
        return bytes(ids).decode("utf-8", errors="replace")


class Recorder(TextStreamer):
    def __init__(self, tokenizer, **kwargs):
        super().__init__(tokenizer, **kwargs)
        self.deltas: list[str] = []
        self.ended = False

    def on_finalized_text(self, text, stream_end=False):
        self.deltas.append(text)
        self.ended = self.ended or stream_end


def test_deltas_are_whole_characters_as_soon_as_their_last_byte_arrives():
    data = list(TEXT.encode())
    streamer = Recorder(ByteTokenizer())
    printed = ""
    for i, byte in enumerate(data):
        streamer.put(np.array([byte]))
        printed += streamer.deltas[-1]
        # Everything whose bytes have all arrived is out, and nothing else.
        assert printed == data_prefix_text(data[: i + 1])
    streamer.end()
    assert streamer.ended
    assert "".join(streamer.deltas) == TEXT
    assert not any("\ufffd" in d for d in streamer.deltas)


def data_prefix_text(prefix: list[int]) -> str:
    # The complete characters of a byte prefix, decoded independently with Python's incremental decoder.
    import codecs

    return codecs.getincrementaldecoder("utf-8")().decode(bytes(prefix))


def test_skip_prompt_and_batches():
    streamer = Recorder(ByteTokenizer(), skip_prompt=True)
    streamer.put(np.array([list(b"prompt ")]))
    streamer.put(np.array([ord("o")]))
    streamer.put(np.array([ord("k")]))
    streamer.end()
    assert "".join(streamer.deltas) == "ok"
    with pytest.raises(LLMError, match="one sequence"):
        Recorder(ByteTokenizer()).put(np.array([[1, 2], [3, 4]]))


def test_invalid_bytes_come_out_at_the_end():
    streamer = Recorder(ByteTokenizer())
    for byte in [ord("a"), 0xE4, 0xBD]:  # "a" then two of the three bytes of a CJK character
        streamer.put(np.array([byte]))
    assert "".join(streamer.deltas) == "a"
    streamer.end()
    assert "".join(streamer.deltas) == ByteTokenizer().decode([ord("a"), 0xE4, 0xBD])


class ByteLM(TableLM):
    """A TableLM over 256 byte tokens whose greedy continuation spells a fixed UTF-8 text."""

    def __init__(self, text: str) -> None:
        data = list(text.encode())
        table = np.zeros((257, 256, 256), dtype=np.float32)
        # After the pair (prev, current) the next byte of the text gets the highest logit.
        prev, current = 256, data[0]
        for following in data[1:]:
            table[prev, current, following] = 10.0
            prev, current = current, following
        super().__init__(table)
        self.data = data


def test_generate_streams_to_an_iterator_in_another_thread():
    model = ByteLM("ab" + "✓ok")
    streamer = TextIteratorStreamer(ByteTokenizer(), skip_prompt=True, timeout=30)
    thread = threading.Thread(
        target=model.generate, args=(np.array([model.data[:2]]),), kwargs={"max_new_tokens": 5, "streamer": streamer}
    )
    thread.start()
    deltas = list(streamer)
    thread.join()
    assert "".join(deltas) == "✓ok"
    assert deltas[0] == "✓"  # the three bytes of the check mark come out together


def test_stream_yields_text_deltas_and_restores_grad_mode():
    from axon_autograd import is_grad_enabled

    model = ByteLM("x" + "é✓ and more")
    pieces = []
    for delta in model.stream(np.array([model.data[:1]]), ByteTokenizer(), max_new_tokens=len(model.data) - 1):
        assert is_grad_enabled()  # the consumer runs with gradients as it had them
        pieces.append(delta)
    assert "".join(pieces) == "é✓ and more"
    assert not any("\ufffd" in p for p in pieces)


def test_stream_refuses_beams_and_batches():
    model = TableLM(random_table(6, seed=0))
    with pytest.raises(LLMError, match="one prompt"):
        list(model.stream(np.array([[1, 2]]), ByteTokenizer(), num_beams=2, max_new_tokens=2))
    with pytest.raises(LLMError, match="streamer"):
        model.generate(np.array([[1]]), num_beams=2, max_new_tokens=2, streamer=Recorder(ByteTokenizer()))
