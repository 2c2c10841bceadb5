// Launchers of invprob-plugin-cuda's kernels: plain CUDA C++ (no torch headers), called by
// bindings.cpp with raw pointers and the current torch stream. float32, contiguous rows.
#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

namespace invprob_cuda {

// y[b, :] = S_m C_g D x[b, :] for b < batch; x is [batch, n], y is [batch, m]; rows (length m)
// may be null (the first m entries). g_fft is rfft(g) as interleaved (re, im) pairs, n/2+1 of
// them. `work` holds batch * 2 * (n/2+1) floats: the one complex spectrum per image.
void circulant_sense(const float* x, const float* g_fft, const float* signs, const int64_t* rows, float* y,
                     float* work, int64_t batch, int64_t n, int64_t m, cudaStream_t stream);

// x[b, :] = D C_g^T S_m^T y[b, :]; the same shapes and work buffer, the other way round.
void circulant_sense_adjoint(const float* y, const float* g_fft, const float* signs, const int64_t* rows,
                             float* x, float* work, int64_t batch, int64_t n, int64_t m, cudaStream_t stream);

// The cuFFT plan cache of the sensing kernels: entries now, and the most it keeps (LRU).
int64_t cached_plans();
int64_t max_cached_plans();

// Each of the `batch` rows of length `length` of v projected onto the l1 ball of `radius`
// around the same row of centre, into out (exactly: see l1_ball.cu). `scratch` holds
// l1_ball_scratch_doubles(batch, length) doubles. A fixed number of launches (22), any number
// of rows, the same bits every run; never reads anything back to the host.
int64_t l1_ball_scratch_doubles(int64_t batch, int64_t length);
void project_l1_ball(const float* v, const float* centre, double radius, float* out, double* scratch,
                     int64_t batch, int64_t length, cudaStream_t stream);

}  // namespace invprob_cuda
