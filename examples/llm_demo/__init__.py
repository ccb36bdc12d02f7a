"""The pieces of ``examples/train_llm.py``: a LLaMA trained from scratch with axon, end to end.

Each module is one stage: :mod:`.corpus` (the text and its train/validation split),
:mod:`.tokenizer` (byte-level BPE with axon-text, token streams), :mod:`.data` (batches of token
windows with a resumable position, the unigram baseline), :mod:`.sizes` (model presets),
:mod:`.training` (the loop: AdamW, warmup + cosine, clipping, evaluation, atomic checkpoints,
bit-for-bit resume), :mod:`.progress` (the rich bar and the live TrainingMonitor),
:mod:`.export` (sampling, Q8_0 / Q4_0 GGUF, generation from the GGUF, float/quantized agreement)
and :mod:`.pipeline` (the stages in order, timed, with the closing summary).
"""
