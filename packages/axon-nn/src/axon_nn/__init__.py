"""axon-nn."""
