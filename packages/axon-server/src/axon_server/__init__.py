"""axon-server: an OpenAI-compatible server over axon models (see README.md).

from axon_server import ModelSpec, ServerConfig, create_app
app = create_app(ServerConfig(models=(ModelSpec.parse("SmolLM2.gguf"),), api_key="secret"))
"""

from __future__ import annotations

from .app import create_app
from .config import ModelSpec, ServerConfig
from .errors import APIError

__all__ = ["APIError", "ModelSpec", "ServerConfig", "create_app"]
