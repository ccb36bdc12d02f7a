// cuda-sim stand-in for <cuda.h>: prelude.h (force-included) already defines what kernels use.
#pragma once
