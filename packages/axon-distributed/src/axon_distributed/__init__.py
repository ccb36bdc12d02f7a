"""axon-distributed: process groups and collectives (MPI, NCCL), DDP, FSDP, pipelines, a launcher."""

__version__ = "0.1.0"

__all__: list[str] = []
