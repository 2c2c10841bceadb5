// Exact projection of each row onto an l1 ball around a centre, without sorting, without
// reading anything back to the host, and with the same bits on every run.
//
// With d = v - c and a = |d|, the projection is c + sign(d) * max(a - theta, 0), where theta
// solves f(theta) = sum_i max(a_i - theta, 0) = radius (f decreases; a row with f(0) = ||d||_1
// <= radius is returned unchanged). Four stages, every row of the batch in each launch:
//
// 1. Norms: ||d||_1 and max a.
// 2. Bisection on the float32 bit patterns of a (non-negative floats order like their bits):
//    the bracket (lo, hi] of bit patterns, at first (0, bits(max a)], is cut into kCuts pieces
//    per pass; one read of the row evaluates f at the kCuts - 1 interior cuts, as f(t) =
//    S(t) - t K(t) with S and K the sum and count of the a_i > t summed in double (a float32
//    term a_i - t would lose t next to a much larger a_i), and the piece where f crosses the
//    radius is the next bracket. Finite floats have 31 significant bits
//    and each pass takes 5 (kCuts = 32), so kBisectionPasses = 7 passes leave adjacent floats
//    lo < hi: no a_i lies strictly between them, so (in exact arithmetic) {a > lo} is the
//    active set.
// 3. Michelot's fixed point (Condat, Math. Program. 2016, section 2): t <- (S(t) - radius) /
//    K(t), with S and K the sum and count of the a_i > t. From any start the first step lands
//    at or below theta and the iterates then rise to theta; the active set shrinks at every
//    step until it stops changing, and then t is theta exactly: t = (S(A) - radius) / |A| with
//    A = {a > t} is the optimality condition itself, checked on the data, not a tolerance.
//    kFixedPointPasses = 2 grid-wide passes: the first computes t from {a > lo}, the second
//    checks that {a > t} has the same count (sets {a > t} are nested, so equal counts mean
//    equal sets). After an exact bisection that is always enough.
// 4. Completion: f is evaluated in floating point, so a cut within rounding of theta can be
//    put on the wrong side and leave a few a_i between lo and theta. A row whose fixed point
//    has not been confirmed by then finishes in one block that iterates until it is (no host
//    round-trip; the loop runs at most once more than the number of distinct |d| values in
//    (t_1, theta]; on every adversarial input of the tests it is never needed and exits at
//    once).
//
// Worst case per call: 22 launches (1 + 1 norms, 7 x 2 bisection, 2 x 2 fixed point,
// 1 completion, 1 apply), 11 grid-wide reads of v and c, plus the completion's block-local
// reads only where rounding put a cut on the wrong side. Nothing is read back to the host.
//
// Determinism: every sum has a fixed order (each thread adds its elements in index order in
// double, warps reduce by the same shuffle tree, block sums add warps in order, and the
// per-block partials of a row are reduced by one block in a fixed order, never with atomics),
// and the grid depends only on the shape, so a call gives the same bits every time.
//
// Rows: a 1-D grid over (row, part) pairs with a grid-stride loop, so any number of rows.
//
// invprob_plugin_cuda/emulation.py models this file's arithmetic in numpy for the CPU tests:
// change both together.
#include <cuda_runtime.h>

#include <climits>
#include <stdexcept>
#include <string>

#include "kernels.h"

namespace invprob_cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kCuts = 32;
constexpr int kBisectionPasses = 7;
constexpr int kFixedPointPasses = 2;
constexpr int kElementsPerThread = 8;  // parts per row: length / (kThreads * 8), at most kMaxParts
constexpr int64_t kMaxParts = 1024;
constexpr int kSlots = 2 * kCuts;  // partials per (row, part): S and K at the kCuts - 1 cuts, or 2 values

// Per-row state (doubles).
enum State : int {
  kNorm = 0,      // ||d||_1
  kMax = 1,       // max a
  kLo = 2,        // bracket, as float32 bit patterns (exact in a double)
  kHi = 3,
  kT = 4,         // current fixed-point iterate
  kCount = 5,     // |{a > previous t}|, -1 before the first step
  kDone = 6,      // 1 when theta (= kT) is confirmed, or the row is inside the ball
  kInside = 7,    // 1 when ||d||_1 <= radius
  kStateSize = 8,
};

void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
}

__device__ inline double warp_sum(double value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
  return value;
}

__device__ inline double warp_max(double value) {
  for (int offset = 16; offset > 0; offset >>= 1) value = fmax(value, __shfl_down_sync(0xffffffffu, value, offset));
  return value;
}

int64_t parts_per_row(int64_t length) {
  int64_t parts = (length + int64_t(kThreads) * kElementsPerThread - 1) / (int64_t(kThreads) * kElementsPerThread);
  return parts < 1 ? 1 : (parts > kMaxParts ? kMaxParts : parts);
}

// Block totals of `count` per-thread values (sum, or max for slot `max_slot`): each warp's
// shuffle tree, then thread 0 adds the warps in order; into out[0 .. count).
template <int kCount>
__device__ void block_totals(double (&values)[kCount], int max_slot, double* out) {
  __shared__ double warps[kWarps][kSlots];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
#pragma unroll
  for (int k = 0; k < kCount; ++k) {
    const double total = k == max_slot ? warp_max(values[k]) : warp_sum(values[k]);
    if (lane == 0) warps[warp][k] = total;
  }
  __syncthreads();
  if (threadIdx.x < kCount) {
    const int k = threadIdx.x;
    double total = warps[0][k];
    for (int w = 1; w < kWarps; ++w) total = k == max_slot ? fmax(total, warps[w][k]) : total + warps[w][k];
    out[k] = total;
  }
  __syncthreads();  // `warps` is reused by the next (row, part) of the grid-stride loop
}

// Totals over a row's `parts` partials of `count` slots (sum, or max for `max_slot`): warp w
// takes slots w, w + kWarps, ...; lane l adds parts l, l + 32, ... in order; then the warp's
// tree. Written to totals[0 .. count) in shared memory.
__device__ void row_totals(const double* partials, int64_t parts, int count, int max_slot, double* totals) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int slot = warp; slot < count; slot += kWarps) {
    double acc = 0.0;
    for (int64_t part = lane; part < parts; part += 32) {
      const double x = partials[part * kSlots + slot];
      acc = slot == max_slot ? fmax(acc, x) : acc + x;
    }
    acc = slot == max_slot ? warp_max(acc) : warp_sum(acc);
    if (lane == 0) totals[slot] = acc;
  }
  __syncthreads();
}

// Stage 1, per (row, part): sum and max of a.
__global__ void partial_norms(const float* __restrict__ v, const float* __restrict__ c, double* __restrict__ partials,
                              int64_t batch, int64_t length, int64_t parts) {
  for (int64_t block = blockIdx.x; block < batch * parts; block += gridDim.x) {
    const int64_t row = block / parts, part = block - row * parts;
    const float* vr = v + row * length;
    const float* cr = c + row * length;
    double values[2] = {0.0, 0.0};
    for (int64_t i = part * kThreads + threadIdx.x; i < length; i += parts * kThreads) {
      const float a = fabsf(vr[i] - cr[i]);
      values[0] += a;
      values[1] = fmax(values[1], double(a));
    }
    block_totals<2>(values, 1, partials + block * kSlots);
  }
}

// The bit pattern of cut k of the bracket (lo, hi]: lo + floor((hi - lo) k / kCuts).
__device__ __host__ inline unsigned int cut_bits(double lo, double hi, int k) {
  const unsigned long long l = static_cast<unsigned long long>(lo), h = static_cast<unsigned long long>(hi);
  return static_cast<unsigned int>(l + ((h - l) * static_cast<unsigned long long>(k)) / kCuts);
}

// Stage 2, per (row, part): at each interior cut t, the sum S and count K of the a > t (f(t) =
// S - t K is formed per row in double: a float32 term a - t would lose t next to a much larger
// a, and the decision with it).
__global__ void partial_cuts(const float* __restrict__ v, const float* __restrict__ c, const double* __restrict__ state,
                             double* __restrict__ partials, int64_t batch, int64_t length, int64_t parts) {
  for (int64_t block = blockIdx.x; block < batch * parts; block += gridDim.x) {
    const int64_t row = block / parts, part = block - row * parts;
    const double* s = state + row * kStateSize;
    if (s[kDone] != 0.0) continue;  // the same for the whole block
    float cuts[kCuts - 1];
#pragma unroll
    for (int k = 1; k < kCuts; ++k) cuts[k - 1] = __uint_as_float(cut_bits(s[kLo], s[kHi], k));
    double sums[kCuts - 1];
    unsigned int counts[kCuts - 1];
#pragma unroll
    for (int k = 0; k < kCuts - 1; ++k) { sums[k] = 0.0; counts[k] = 0u; }
    const float* vr = v + row * length;
    const float* cr = c + row * length;
    for (int64_t i = part * kThreads + threadIdx.x; i < length; i += parts * kThreads) {
      const float a = fabsf(vr[i] - cr[i]);
#pragma unroll
      for (int k = 0; k < kCuts - 1; ++k) {
        if (a > cuts[k]) { sums[k] += a; counts[k] += 1u; }
      }
    }
    double values[2 * (kCuts - 1)];
#pragma unroll
    for (int k = 0; k < kCuts - 1; ++k) { values[k] = sums[k]; values[kCuts - 1 + k] = counts[k]; }
    block_totals<2 * (kCuts - 1)>(values, -1, partials + block * kSlots);
  }
}

// Stage 3, per (row, part): sum and count of the a > t.
__global__ void partial_active(const float* __restrict__ v, const float* __restrict__ c, const double* __restrict__ state,
                               double* __restrict__ partials, int64_t batch, int64_t length, int64_t parts) {
  for (int64_t block = blockIdx.x; block < batch * parts; block += gridDim.x) {
    const int64_t row = block / parts, part = block - row * parts;
    const double* s = state + row * kStateSize;
    if (s[kDone] != 0.0) continue;
    const double t = s[kT];
    double values[2] = {0.0, 0.0};
    const float* vr = v + row * length;
    const float* cr = c + row * length;
    for (int64_t i = part * kThreads + threadIdx.x; i < length; i += parts * kThreads) {
      const float a = fabsf(vr[i] - cr[i]);
      if (double(a) > t) { values[0] += a; values[1] += 1.0; }
    }
    block_totals<2>(values, -1, partials + block * kSlots);
  }
}

// One fixed-point step from the sum and count of {a > t}: done when the count did not change
// (the set is the previous one, so t is its fixed point) or is 0 (t = max a: radius 0);
// otherwise t <- (S - radius) / K, never below t after the first step (from there the exact
// iterates only rise, and this keeps rounding from making them oscillate).
__device__ inline void fixed_point_step(double* s, double sum, double count, double radius) {
  if (count == s[kCount] || count == 0.0) {
    s[kDone] = 1.0;
    return;
  }
  const double next = (sum - radius) / count;
  s[kT] = s[kCount] < 0.0 ? next : fmax(s[kT], next);
  s[kCount] = count;
}

enum class Pass { kNorms, kBisection, kFixedPoint };

// Per row, after each grid-wide pass: the row's totals (in a fixed order), then
// - kNorms: the norms, the first bracket (0, bits(max a)], the state;
// - kBisection: the piece of the bracket where f = S - t K crosses the radius is the bracket;
// - kFixedPoint: one fixed-point step.
__global__ void finish_pass(const double* __restrict__ partials, double* __restrict__ state, int64_t batch,
                            int64_t parts, double radius, Pass pass) {
  __shared__ double totals[kSlots];
  const int count = pass == Pass::kBisection ? 2 * (kCuts - 1) : 2;
  for (int64_t row = blockIdx.x; row < batch; row += gridDim.x) {
    double* s = state + row * kStateSize;
    if (pass != Pass::kNorms && s[kDone] != 0.0) continue;  // the same for the whole block
    row_totals(partials + row * parts * kSlots, parts, count, pass == Pass::kNorms ? 1 : -1, totals);
    if (threadIdx.x == 0) {
      if (pass == Pass::kNorms) {
        const bool inside = totals[0] <= radius;
        s[kNorm] = totals[0];
        s[kMax] = totals[1];
        s[kLo] = 0.0;
        s[kHi] = static_cast<double>(__float_as_uint(static_cast<float>(totals[1])));
        s[kT] = 0.0;
        s[kCount] = -1.0;
        s[kDone] = inside ? 1.0 : 0.0;
        s[kInside] = inside ? 1.0 : 0.0;
      } else if (pass == Pass::kBisection) {
        int first_below = kCuts;  // f(hi) <= radius always
        for (int k = 1; k < kCuts; ++k) {
          const double t = __uint_as_float(cut_bits(s[kLo], s[kHi], k));
          // __dmul_rn: no fused multiply-add, so that the numpy model rounds the same way
          if (totals[k - 1] - __dmul_rn(t, totals[kCuts - 1 + k - 1]) <= radius) { first_below = k; break; }
        }
        const unsigned int lo = cut_bits(s[kLo], s[kHi], first_below - 1), hi = cut_bits(s[kLo], s[kHi], first_below);
        s[kLo] = lo;
        s[kHi] = hi;
        s[kT] = static_cast<double>(__uint_as_float(lo));
      } else {
        fixed_point_step(s, totals[0], totals[1], radius);
      }
    }
    __syncthreads();
  }
}

// Stage 4: one block per unconfirmed row iterates the fixed point to the end.
__global__ void complete_fixed_point(const float* __restrict__ v, const float* __restrict__ c, double* __restrict__ state,
                                     int64_t batch, int64_t length, double radius) {
  __shared__ double totals[kSlots];
  __shared__ int done;
  for (int64_t row = blockIdx.x; row < batch; row += gridDim.x) {
    double* s = state + row * kStateSize;
    if (s[kDone] != 0.0) continue;
    const float* vr = v + row * length;
    const float* cr = c + row * length;
    do {
      const double t = s[kT];
      double values[2] = {0.0, 0.0};
      for (int64_t i = threadIdx.x; i < length; i += kThreads) {
        const float a = fabsf(vr[i] - cr[i]);
        if (double(a) > t) { values[0] += a; values[1] += 1.0; }
      }
      block_totals<2>(values, -1, totals);
      if (threadIdx.x == 0) {
        fixed_point_step(s, totals[0], totals[1], radius);
        done = s[kDone] != 0.0;
      }
      __syncthreads();
    } while (!done);
  }
}

// out = v inside the ball, else c + sign(d) * max(a - theta, 0) (the difference in double).
__global__ void apply_threshold(const float* __restrict__ v, const float* __restrict__ c,
                                const double* __restrict__ state, float* __restrict__ out, int64_t batch,
                                int64_t length, int64_t parts) {
  for (int64_t block = blockIdx.x; block < batch * parts; block += gridDim.x) {
    const int64_t row = block / parts, part = block - row * parts;
    const double* s = state + row * kStateSize;
    const bool inside = s[kInside] != 0.0;
    const double theta = s[kT];
    const float* vr = v + row * length;
    const float* cr = c + row * length;
    float* o = out + row * length;
    for (int64_t i = part * kThreads + threadIdx.x; i < length; i += parts * kThreads) {
      const float vi = vr[i];
      if (inside) { o[i] = vi; continue; }
      const float d = vi - cr[i];
      const float shrunk = static_cast<float>(fmax(double(fabsf(d)) - theta, 0.0));
      o[i] = cr[i] + copysignf(shrunk, d);
    }
  }
}

unsigned int grid_for(int64_t blocks) {
  return static_cast<unsigned int>(blocks < INT_MAX ? (blocks > 0 ? blocks : 1) : INT_MAX);
}

}  // namespace

int64_t l1_ball_scratch_doubles(int64_t batch, int64_t length) {
  return batch * kStateSize + batch * parts_per_row(length) * kSlots;
}

void project_l1_ball(const float* v, const float* centre, double radius, float* out, double* scratch,
                     int64_t batch, int64_t length, cudaStream_t stream) {
  const int64_t parts = parts_per_row(length);
  double* state = scratch;
  double* partials = scratch + batch * kStateSize;
  const unsigned int element_grid = grid_for(batch * parts), row_grid = grid_for(batch);
  partial_norms<<<element_grid, kThreads, 0, stream>>>(v, centre, partials, batch, length, parts);
  finish_pass<<<row_grid, kThreads, 0, stream>>>(partials, state, batch, parts, radius, Pass::kNorms);
  for (int pass = 0; pass < kBisectionPasses; ++pass) {
    partial_cuts<<<element_grid, kThreads, 0, stream>>>(v, centre, state, partials, batch, length, parts);
    finish_pass<<<row_grid, kThreads, 0, stream>>>(partials, state, batch, parts, radius, Pass::kBisection);
  }
  for (int pass = 0; pass < kFixedPointPasses; ++pass) {
    partial_active<<<element_grid, kThreads, 0, stream>>>(v, centre, state, partials, batch, length, parts);
    finish_pass<<<row_grid, kThreads, 0, stream>>>(partials, state, batch, parts, radius, Pass::kFixedPoint);
  }
  complete_fixed_point<<<row_grid, kThreads, 0, stream>>>(v, centre, state, batch, length, radius);
  apply_threshold<<<element_grid, kThreads, 0, stream>>>(v, centre, state, out, batch, length, parts);
  check_cuda(cudaGetLastError(), "project_l1_ball");
}

}  // namespace invprob_cuda
