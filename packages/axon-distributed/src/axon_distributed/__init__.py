"""axon-distributed: torch.distributed's API over MPI for axon Tensors, and a launcher.

Process groups and collectives (:mod:`.collectives`), the launcher (``python -m
axon_distributed.launch -n N script.py`` or ``axon-distributed launch``), and the errors a rank
gets when another dies, hangs or disagrees.
"""

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
from .errors import CollectiveMismatchError, CollectiveTimeoutError, DistributedError, RankFailureError
from .process_group import ProcessGroup, ProcessGroupMPI
from .reduce_op import ReduceOp
from .work import Work

__version__ = "0.1.0"

__all__ = [
    "CollectiveMismatchError",
    "CollectiveTimeoutError",
    "DistributedError",
    "GroupMember",
    "ProcessGroup",
    "ProcessGroupMPI",
    "RankFailureError",
    "ReduceOp",
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
    "new_group",
    "recv",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "scatter",
    "send",
]
