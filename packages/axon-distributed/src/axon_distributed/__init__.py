"""axon-distributed: torch.distributed's API over MPI for axon Tensors, and a launcher.

Process groups and collectives (:mod:`.collectives`), the launcher (``python -m
axon_distributed.launch -n N script.py`` or ``axon-distributed launch``), and the errors a rank
gets when another dies, hangs or disagrees.
"""

from .checkpoint import CheckpointError, load_checkpoint, read_manifest, save_checkpoint
from .collectives import (
    GroupMember,
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    all_to_all_single,
    barrier,
    broadcast,
    destroy_process_group,
    gather,
    get_backend,
    get_global_rank,
    get_group_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    irecv,
    is_available,
    is_initialized,
    is_mpi_available,
    isend,
    new_group,
    recv,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
    send,
)
from .ddp import DistributedDataParallel
from .errors import CollectiveMismatchError, CollectiveTimeoutError, DistributedError, RankFailureError
from .fsdp import CPUOffload, FullyShardedDataParallel, ModuleWrapPolicy, ShardingStrategy
from .pipeline import (
    PipelineMemoryStats,
    PipelineSchedule,
    PipelineStage,
    Schedule1F1B,
    ScheduleGPipe,
    split_sequential,
)
from .process_group import ProcessGroup, ProcessGroupMPI
from .reduce_op import ReduceOp
from .work import Work

__version__ = "0.1.0"

__all__ = [
    "CPUOffload",
    "CheckpointError",
    "CollectiveMismatchError",
    "CollectiveTimeoutError",
    "DistributedDataParallel",
    "DistributedError",
    "FullyShardedDataParallel",
    "GroupMember",
    "ModuleWrapPolicy",
    "PipelineMemoryStats",
    "PipelineSchedule",
    "PipelineStage",
    "ProcessGroup",
    "ProcessGroupMPI",
    "RankFailureError",
    "ReduceOp",
    "Schedule1F1B",
    "ScheduleGPipe",
    "ShardingStrategy",
    "Work",
    "all_gather",
    "all_gather_into_tensor",
    "all_reduce",
    "all_to_all_single",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "gather",
    "get_backend",
    "get_global_rank",
    "get_group_rank",
    "get_process_group_ranks",
    "get_rank",
    "get_world_size",
    "group",
    "init_process_group",
    "irecv",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "isend",
    "load_checkpoint",
    "new_group",
    "recv",
    "read_manifest",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "save_checkpoint",
    "scatter",
    "send",
    "split_sequential",
]
