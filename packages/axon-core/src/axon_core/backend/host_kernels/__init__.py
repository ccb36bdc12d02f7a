"""CPU kernels compiled by Numba for the hot paths NumPy can only express with large temporaries.

Each module here is imported by :class:`~axon_core.backend.cpu.CpuBackend` on the first call of
its op (importing Numba costs ~0.3 s, so ``import axon_core`` does not pay it). Kernels are
``njit(cache=True)``: compiled once per signature, then loaded from Numba's on-disk cache. They
compute exactly what the NumPy references in ``backend/base.py`` compute (the same order of
additions, the same tie and NaN rules); ``tests/test_host_kernels.py`` checks that on every
geometry, and the layer tests check both against PyTorch.
"""
