"""The live training dashboard."""

from .monitor import TrainingMonitor

__all__ = ["TrainingMonitor"]
