"""axon-text: tokenizers."""
