"""axon-serialize: state dicts (safetensors, exact JSON, the axon container) and checkpoints.

Every save is atomic (temporary file, fsync, rename); every load validates before it
allocates and never executes code from the file.
"""

from __future__ import annotations

from axon_core import atomic_writer

from .checkpoint import Checkpoint, TrainingState
from .container import read_container, write_container
from .errors import SerializationError
from .json_io import load_json, save_json
from .safetensors_io import load_safetensors, save_safetensors
from .state_dict import FORMATS, load_state_dict, save_state_dict

__version__ = "0.1.0"

__all__ = [
    "FORMATS",
    "Checkpoint",
    "SerializationError",
    "TrainingState",
    "atomic_writer",
    "load_json",
    "load_safetensors",
    "load_state_dict",
    "read_container",
    "save_json",
    "save_safetensors",
    "save_state_dict",
    "write_container",
]
