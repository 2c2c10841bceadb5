// cuFFT's API as this plugin uses it. With the CUDA toolkit's cufft.h (every machine that builds
// the extension for real: a CUDA toolkit, or the nvidia-cufft wheels beside torch) that header
// is used. Without it — CI's compile check on a machine with nvcc but not the 200 MB cuFFT
// package — the declarations below (cuFFT's stable C API: plan, execute, stream, destroy) let the
// sources compile, so a build break in our code cannot land. Nothing links against them there.
#pragma once

#if __has_include(<cufft.h>)
#include <cufft.h>
#else
#include <cuComplex.h>
#include <cuda_runtime_api.h>

extern "C" {
typedef int cufftHandle;
typedef float cufftReal;
typedef cuComplex cufftComplex;
typedef enum cufftResult_t { CUFFT_SUCCESS = 0x0 } cufftResult;
typedef enum cufftType_t { CUFFT_R2C = 0x2a, CUFFT_C2R = 0x2c } cufftType;
cufftResult cufftPlanMany(cufftHandle* plan, int rank, int* n, int* inembed, int istride, int idist, int* onembed,
                          int ostride, int odist, cufftType type, int batch);
cufftResult cufftExecR2C(cufftHandle plan, cufftReal* idata, cufftComplex* odata);
cufftResult cufftExecC2R(cufftHandle plan, cufftComplex* idata, cufftReal* odata);
cufftResult cufftSetStream(cufftHandle plan, cudaStream_t stream);
cufftResult cufftDestroy(cufftHandle plan);
}
#endif
