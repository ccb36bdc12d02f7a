"""Layers of axon-llm."""
