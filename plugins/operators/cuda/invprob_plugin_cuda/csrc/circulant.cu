// Partial circulant sensing y = S_m C_g D x and its adjoint, with cuFFT in place.
//
// Per call: one pass writes D x into the real (padded) layout of the spectrum buffer, an
// in-place R2C, one pass multiplies by conj(G) / n (the 1/n of the unnormalised C2R folded in),
// an in-place C2R, one pass gathers the kept rows. The only memory beyond input and output
// is that one complex spectrum per image (`work`). Plans are cached per (device, stream, n,
// batch), at most 16, least recently used evicted (see PlanCache below).
//
// The Python wrapper (invprob_plugin_cuda/kernels.py) checks rows (in range, distinct), the
// length of g_fft and m before any launch: the kernels trust them. Distinct rows matter to
// scatter_rows, whose writes to one entry would otherwise race.
#include <cuda_runtime.h>
#include "cufft_api.h"

#include <climits>
#include <list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>

#include "kernels.h"

namespace invprob_cuda {
namespace {

constexpr int kThreads = 256;

inline int blocks_for(int64_t total) {
  int64_t blocks = (total + kThreads - 1) / kThreads;
  return static_cast<int>(blocks < 65535 * 8 ? (blocks > 0 ? blocks : 1) : 65535 * 8);
}

void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
}

void check_cufft(cufftResult status, const char* what) {
  if (status != CUFFT_SUCCESS) throw std::runtime_error(std::string(what) + ": cuFFT error " + std::to_string(status));
}

// x * signs into the padded real layout of the spectrum buffer (row stride `padded`).
__global__ void sign_into_padded(const float* __restrict__ x, const float* __restrict__ signs,
                                 float* __restrict__ work, int64_t n, int64_t padded, int64_t total) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = idx / n, i = idx - b * n;
    work[b * padded + i] = x[idx] * signs[i];
  }
}

// spectrum *= (conjugate ? conj(G) : G) / n, over batch * half complex entries.
__global__ void multiply_spectrum(float2* __restrict__ spectrum, const float2* __restrict__ g, int64_t half,
                                  int64_t total, bool conjugate, float scale) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total; idx += int64_t(gridDim.x) * blockDim.x) {
    const float2 a = spectrum[idx];
    float2 w = g[idx % half];
    if (conjugate) w.y = -w.y;
    spectrum[idx] = make_float2((a.x * w.x - a.y * w.y) * scale, (a.x * w.y + a.y * w.x) * scale);
  }
}

// y[b, j] = work[b, rows[j]] (or work[b, j] without rows).
__global__ void gather_rows(const float* __restrict__ work, const int64_t* __restrict__ rows, float* __restrict__ y,
                            int64_t m, int64_t padded, int64_t total) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = idx / m, j = idx - b * m;
    y[idx] = work[b * padded + (rows ? rows[j] : j)];
  }
}

// work[b, rows[j]] = y[b, j] into a zeroed buffer.
__global__ void scatter_rows(const float* __restrict__ y, const int64_t* __restrict__ rows, float* __restrict__ work,
                             int64_t m, int64_t padded, int64_t total) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = idx / m, j = idx - b * m;
    work[b * padded + (rows ? rows[j] : j)] = y[idx];
  }
}

// x[b, i] = work[b, i] * signs[i].
__global__ void sign_from_padded(const float* __restrict__ work, const float* __restrict__ signs,
                                 float* __restrict__ x, int64_t n, int64_t padded, int64_t total) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = idx / n, i = idx - b * n;
    x[idx] = work[b * padded + i] * signs[i];
  }
}

// cuFFT plans, cached. A plan is bound to one stream (cufftSetStream once, when it is made):
// its work area is then only ever used in that stream's order, so two threads or two streams
// never share one (a plan shared across streams would let two transforms use the same work
// area at once). Each entry also has a mutex held over the whole call (both Execs and the
// multiply between them), since a cuFFT plan must not be executed from two host threads at
// once. The cache holds at most kMaxCachedPlans entries per process, least recently used
// evicted first; an evicted entry's plans (and their cuFFT work areas) are destroyed when the
// last call using it returns. cufftDestroy frees device memory, which synchronises the
// device: that happens only when more than kMaxCachedPlans (device, stream, n, batch)
// combinations are in use, e.g. a batch size that changes at every call.
constexpr size_t kMaxCachedPlans = 16;

struct Plans {
  cufftHandle forward = 0;  // R2C, in place, padded rows
  cufftHandle inverse = 0;  // C2R, in place
  bool has_forward = false, has_inverse = false;
  int device = 0;
  std::mutex in_use;

  Plans() = default;
  Plans(const Plans&) = delete;
  Plans& operator=(const Plans&) = delete;
  ~Plans() {
    int current = 0;
    const bool switch_device = cudaGetDevice(&current) == cudaSuccess && current != device;
    if (switch_device) cudaSetDevice(device);
    if (has_forward) cufftDestroy(forward);
    if (has_inverse) cufftDestroy(inverse);
    if (switch_device) cudaSetDevice(current);
  }
};

using PlanKey = std::tuple<int, cudaStream_t, int64_t, int64_t>;  // device, stream, n, batch

struct PlanCache {
  std::mutex lock;
  std::list<std::pair<PlanKey, std::shared_ptr<Plans>>> entries;  // most recently used first

  std::shared_ptr<Plans> get(int64_t n, int64_t batch, cudaStream_t stream) {
    int device = 0;
    check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    const PlanKey key{device, stream, n, batch};
    std::lock_guard<std::mutex> guard(lock);
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      if (it->first == key) {
        entries.splice(entries.begin(), entries, it);
        return entries.front().second;
      }
    }
    if (n > INT32_MAX || batch > INT32_MAX) throw std::runtime_error("circulant sensing: n and batch must fit in 32 bits");
    auto plans = std::make_shared<Plans>();
    plans->device = device;
    int size = static_cast<int>(n);
    int half = static_cast<int>(n / 2 + 1);
    int padded = 2 * half;
    check_cufft(cufftPlanMany(&plans->forward, 1, &size, &padded, 1, padded, &half, 1, half, CUFFT_R2C,
                              static_cast<int>(batch)), "cufftPlanMany(R2C)");
    plans->has_forward = true;
    check_cufft(cufftPlanMany(&plans->inverse, 1, &size, &half, 1, half, &padded, 1, padded, CUFFT_C2R,
                              static_cast<int>(batch)), "cufftPlanMany(C2R)");
    plans->has_inverse = true;
    check_cufft(cufftSetStream(plans->forward, stream), "cufftSetStream");
    check_cufft(cufftSetStream(plans->inverse, stream), "cufftSetStream");
    entries.emplace_front(key, plans);
    if (entries.size() > kMaxCachedPlans) entries.pop_back();  // destroyed when its last user returns
    return plans;
  }
};

PlanCache& plan_cache() {
  static PlanCache* cache = new PlanCache();  // never destroyed: no cuFFT calls during process exit
  return *cache;
}


void spectral_product(float* work, const float* g_fft, int64_t batch, int64_t n, bool conjugate, cudaStream_t stream) {
  const std::shared_ptr<Plans> plans = plan_cache().get(n, batch, stream);
  std::lock_guard<std::mutex> guard(plans->in_use);
  const int64_t half = n / 2 + 1;
  check_cufft(cufftExecR2C(plans->forward, work, reinterpret_cast<cufftComplex*>(work)), "cufftExecR2C");
  multiply_spectrum<<<blocks_for(batch * half), kThreads, 0, stream>>>(
      reinterpret_cast<float2*>(work), reinterpret_cast<const float2*>(g_fft), half, batch * half, conjugate,
      1.0f / static_cast<float>(n));
  check_cuda(cudaGetLastError(), "multiply_spectrum");
  check_cufft(cufftExecC2R(plans->inverse, reinterpret_cast<cufftComplex*>(work), work), "cufftExecC2R");
}

}  // namespace

int64_t cached_plans() {
  PlanCache& cache = plan_cache();
  std::lock_guard<std::mutex> guard(cache.lock);
  return static_cast<int64_t>(cache.entries.size());
}

int64_t max_cached_plans() { return static_cast<int64_t>(kMaxCachedPlans); }

void circulant_sense(const float* x, const float* g_fft, const float* signs, const int64_t* rows, float* y,
                     float* work, int64_t batch, int64_t n, int64_t m, cudaStream_t stream) {
  const int64_t padded = 2 * (n / 2 + 1);
  sign_into_padded<<<blocks_for(batch * n), kThreads, 0, stream>>>(x, signs, work, n, padded, batch * n);
  check_cuda(cudaGetLastError(), "sign_into_padded");
  spectral_product(work, g_fft, batch, n, /*conjugate=*/true, stream);  // C_g: correlation
  gather_rows<<<blocks_for(batch * m), kThreads, 0, stream>>>(work, rows, y, m, padded, batch * m);
  check_cuda(cudaGetLastError(), "gather_rows");
}

void circulant_sense_adjoint(const float* y, const float* g_fft, const float* signs, const int64_t* rows,
                             float* x, float* work, int64_t batch, int64_t n, int64_t m, cudaStream_t stream) {
  const int64_t padded = 2 * (n / 2 + 1);
  check_cuda(cudaMemsetAsync(work, 0, sizeof(float) * batch * padded, stream), "cudaMemsetAsync");
  scatter_rows<<<blocks_for(batch * m), kThreads, 0, stream>>>(y, rows, work, m, padded, batch * m);
  check_cuda(cudaGetLastError(), "scatter_rows");
  spectral_product(work, g_fft, batch, n, /*conjugate=*/false, stream);  // C_g^T: convolution
  sign_from_padded<<<blocks_for(batch * n), kThreads, 0, stream>>>(work, signs, x, n, padded, batch * n);
  check_cuda(cudaGetLastError(), "sign_from_padded");
}

}  // namespace invprob_cuda
