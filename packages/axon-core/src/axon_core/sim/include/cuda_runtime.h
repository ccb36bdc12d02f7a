// cuda-sim stand-in for <cuda_runtime.h>: prelude.h (force-included) already defines what kernels use.
#pragma once
