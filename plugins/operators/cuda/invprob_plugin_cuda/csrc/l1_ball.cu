// Exact projection of each row onto an l1 ball around a centre, without sorting and without
// reading anything back to the host.
//
// With d = v - c and a = |d|, the projection is c + sign(d) * max(a - theta, 0), where theta
// solves f(theta) = sum_i max(a_i - theta, 0) = radius (f is decreasing; theta = 0 when
// f(0) = ||d||_1 <= radius, and v is returned). Search: the bracket [lo, hi] = [0, max a] is
// cut into kCuts pieces per pass: one read of the row evaluates f at the kCuts - 1 interior
// points, and the piece where f crosses radius is the next bracket (kPasses passes shrink it
// by kCuts^kPasses ~ 1e9, below float resolution). Exact finish: with S and K the sum and count
// of the a_i > lo, theta = (S - radius) / K, which is exact whenever no a_i lies in
// (lo, theta] (and off by at most the bracket width otherwise). Every row of the batch is
// handled by each launch (grid.y = row); the number of launches is fixed.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels.h"

namespace invprob_cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kCuts = 32;
constexpr int kPasses = 6;
constexpr int kWarps = kThreads / 32;

// scratch layout per row (doubles): [0] ||d||_1, [1] max a (as a float's bits), [2] lo, [3] hi,
// [4] sum of a > lo, [5] count of a > lo, [6 .. 6 + kCuts - 1) f at the interior cuts.
constexpr int kRowScratch = 6 + kCuts - 1;

void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
}

__device__ inline double warp_sum(double value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
  return value;
}

__device__ inline float warp_max(float value) {
  for (int offset = 16; offset > 0; offset >>= 1) value = fmaxf(value, __shfl_down_sync(0xffffffffu, value, offset));
  return value;
}

// ||d||_1 and max |d| per row. Non-negative floats order like their bit patterns, so the
// maximum is an atomicMax on the bits.
__global__ void row_norms(const float* __restrict__ v, const float* __restrict__ c, double* __restrict__ scratch,
                          int64_t length) {
  const int64_t row = blockIdx.y;
  const float* vr = v + row * length;
  const float* cr = c + row * length;
  double sum = 0.0;
  float peak = 0.0f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < length; i += int64_t(gridDim.x) * blockDim.x) {
    const float a = fabsf(vr[i] - cr[i]);
    sum += a;
    peak = fmaxf(peak, a);
  }
  sum = warp_sum(sum);
  peak = warp_max(peak);
  __shared__ double sums[kWarps];
  __shared__ float peaks[kWarps];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) { sums[warp] = sum; peaks[warp] = peak; }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kWarps; ++w) { sum += sums[w]; peak = fmaxf(peak, peaks[w]); }
    double* s = scratch + row * kRowScratch;
    atomicAdd(s + 0, sum);
    atomicMax(reinterpret_cast<unsigned long long*>(s + 1), static_cast<unsigned long long>(__float_as_uint(peak)));
  }
}

// lo = 0, hi = max a (decoded from its bits).
__global__ void start_bracket(double* __restrict__ scratch, int64_t batch) {
  const int64_t row = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (row >= batch) return;
  double* s = scratch + row * kRowScratch;
  const unsigned long long bits = *reinterpret_cast<unsigned long long*>(s + 1);
  s[2] = 0.0;
  s[3] = static_cast<double>(__uint_as_float(static_cast<unsigned int>(bits)));
}

__device__ inline double cut(const double* s, int k) { return s[2] + (s[3] - s[2]) * k / kCuts; }

// f at the interior cuts of the row's bracket, accumulated into scratch[6 ..].
__global__ void evaluate_cuts(const float* __restrict__ v, const float* __restrict__ c, double* __restrict__ scratch,
                              int64_t length) {
  const int64_t row = blockIdx.y;
  const float* vr = v + row * length;
  const float* cr = c + row * length;
  double* s = scratch + row * kRowScratch;
  float cuts[kCuts - 1];
  for (int k = 1; k < kCuts; ++k) cuts[k - 1] = static_cast<float>(cut(s, k));
  float partial[kCuts - 1];
  for (int k = 0; k < kCuts - 1; ++k) partial[k] = 0.0f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < length; i += int64_t(gridDim.x) * blockDim.x) {
    const float a = fabsf(vr[i] - cr[i]);
    for (int k = 0; k < kCuts - 1; ++k) partial[k] += fmaxf(a - cuts[k], 0.0f);
  }
  __shared__ double block_sums[kCuts - 1];
  if (threadIdx.x < kCuts - 1) block_sums[threadIdx.x] = 0.0;
  __syncthreads();
  for (int k = 0; k < kCuts - 1; ++k) {
    const double total = warp_sum(static_cast<double>(partial[k]));
    if (threadIdx.x % 32 == 0) atomicAdd(block_sums + k, total);
  }
  __syncthreads();
  if (threadIdx.x < kCuts - 1) atomicAdd(s + 6 + threadIdx.x, block_sums[threadIdx.x]);
}

// The piece of the bracket where f crosses radius becomes the bracket; the cut sums are reset.
__global__ void narrow_bracket(double* __restrict__ scratch, int64_t batch, double radius) {
  const int64_t row = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (row >= batch) return;
  double* s = scratch + row * kRowScratch;
  int first_below = kCuts;  // f(hi) <= radius always (f(max a) = 0)
  for (int k = 1; k < kCuts; ++k) {
    if (s[6 + k - 1] <= radius) { first_below = k; break; }
  }
  const double lo = cut(s, first_below - 1), hi = cut(s, first_below);
  s[2] = lo;
  s[3] = hi;
  for (int k = 0; k < kCuts - 1; ++k) s[6 + k] = 0.0;
}

// Sum and count of the a_i > lo.
__global__ void active_set(const float* __restrict__ v, const float* __restrict__ c, double* __restrict__ scratch,
                           int64_t length) {
  const int64_t row = blockIdx.y;
  const float* vr = v + row * length;
  const float* cr = c + row * length;
  double* s = scratch + row * kRowScratch;
  const float lo = static_cast<float>(s[2]);
  double sum = 0.0, count = 0.0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < length; i += int64_t(gridDim.x) * blockDim.x) {
    const float a = fabsf(vr[i] - cr[i]);
    if (a > lo) { sum += a; count += 1.0; }
  }
  sum = warp_sum(sum);
  count = warp_sum(count);
  if (threadIdx.x % 32 == 0) { atomicAdd(s + 4, sum); atomicAdd(s + 5, count); }
}

// out = v inside the ball, else c + sign(d) * max(a - theta, 0).
__global__ void apply_threshold(const float* __restrict__ v, const float* __restrict__ c, const double* __restrict__ scratch,
                                float* __restrict__ out, int64_t length, double radius) {
  const int64_t row = blockIdx.y;
  const double* s = scratch + row * kRowScratch;
  const bool inside = s[0] <= radius;
  const double count = s[5] > 0.0 ? s[5] : 1.0;
  const float theta = static_cast<float>(fmax((s[4] - radius) / count, 0.0));
  const float* vr = v + row * length;
  const float* cr = c + row * length;
  float* o = out + row * length;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < length; i += int64_t(gridDim.x) * blockDim.x) {
    const float vi = vr[i];
    if (inside) { o[i] = vi; continue; }
    const float d = vi - cr[i];
    const float shrunk = fmaxf(fabsf(d) - theta, 0.0f);
    o[i] = cr[i] + copysignf(shrunk, d);
  }
}

dim3 row_grid(int64_t batch, int64_t length) {
  int64_t per_row = (length + int64_t(kThreads) * 8 - 1) / (int64_t(kThreads) * 8);  // ~8 elements per thread
  if (per_row < 1) per_row = 1;
  if (per_row > 1024) per_row = 1024;
  return dim3(static_cast<unsigned>(per_row), static_cast<unsigned>(batch));
}

}  // namespace

int64_t l1_ball_scratch_doubles(int64_t batch) { return batch * kRowScratch; }

void project_l1_ball(const float* v, const float* centre, double radius, float* out, double* scratch,
                     int64_t batch, int64_t length, cudaStream_t stream) {
  if (batch > 65535) throw std::runtime_error("project_l1_ball: at most 65535 rows per call");
  const dim3 grid = row_grid(batch, length);
  const int row_blocks = static_cast<int>((batch + kThreads - 1) / kThreads);
  check_cuda(cudaMemsetAsync(scratch, 0, sizeof(double) * l1_ball_scratch_doubles(batch), stream), "cudaMemsetAsync");
  row_norms<<<grid, kThreads, 0, stream>>>(v, centre, scratch, length);
  start_bracket<<<row_blocks, kThreads, 0, stream>>>(scratch, batch);
  for (int pass = 0; pass < kPasses; ++pass) {
    evaluate_cuts<<<grid, kThreads, 0, stream>>>(v, centre, scratch, length);
    narrow_bracket<<<row_blocks, kThreads, 0, stream>>>(scratch, batch, radius);
  }
  active_set<<<grid, kThreads, 0, stream>>>(v, centre, scratch, length);
  apply_threshold<<<grid, kThreads, 0, stream>>>(v, centre, scratch, out, length, radius);
  check_cuda(cudaGetLastError(), "project_l1_ball");
}

}  // namespace invprob_cuda
