"""Acoustic species identification (issue 18 §2), the pieces behind ``examples/train_species.py``.

``calls``: the documented call generator and the noisy clips; ``features``: axon-audio's log-mel
pipeline; ``model``: the CNN; ``metrics``: per-class precision/recall/F1 and the confusion matrix;
``training``: the loop with class-balanced sampling, SpecAugment, atomic checkpoints and resume.
"""
