// cuda-sim stand-in for <cuda_bf16.h>: prelude.h (force-included) already defines what kernels use.
#pragma once
