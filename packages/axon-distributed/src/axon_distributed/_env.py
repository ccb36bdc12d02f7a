"""Where this process sits in a job: rank and world size from the launcher's environment.

Read in this order (the first launcher that set its variables wins): Open MPI's ``mpiexec``
(``OMPI_COMM_WORLD_RANK`` / ``_SIZE``), a PMI launcher such as MPICH's hydra or Slurm with
``--mpi=pmi2`` (``PMI_RANK`` / ``PMI_SIZE``), Slurm's ``srun`` (``SLURM_PROCID`` /
``SLURM_NTASKS``), then torchrun's ``RANK`` / ``WORLD_SIZE``.
"""

from __future__ import annotations

import os

__all__ = ["LAUNCHER_VARIABLES", "launcher_rank"]

# (launcher, rank variable, world-size variable, local-rank variable)
LAUNCHER_VARIABLES = (
    ("mpiexec (Open MPI)", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("PMI", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),
    ("srun (Slurm)", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
    ("torchrun-style", "RANK", "WORLD_SIZE", "LOCAL_RANK"),
)


def launcher_rank(environ: "os._Environ[str] | dict[str, str] | None" = None) -> tuple[str, int, int, int] | None:
    """``(launcher, rank, world_size, local_rank)`` from the first launcher whose variables are set, or None.

    A set but malformed variable (not an integer, rank outside the world) raises ValueError naming it.
    """
    env = os.environ if environ is None else environ
    for launcher, rank_var, size_var, local_var in LAUNCHER_VARIABLES:
        if rank_var in env and size_var in env:
            values = []
            for var in (rank_var, size_var):
                try:
                    values.append(int(env[var]))
                except ValueError:
                    raise ValueError(f"{var}={env[var]!r} (set by {launcher}) is not an integer") from None
            rank, size = values
            if not 0 <= rank < size:
                raise ValueError(f"{rank_var}={rank} is outside the world of {size_var}={size} ({launcher})")
            try:
                local = int(env.get(local_var, "0"))
            except ValueError:
                local = 0
            return launcher, rank, size, local
    return None
