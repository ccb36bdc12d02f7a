// cuda-sim stand-in for <cuda_fp16.h>: prelude.h (force-included) already defines what kernels use.
#pragma once
