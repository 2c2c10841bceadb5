// Partial circulant sensing y = S_m C_g D x and its adjoint, with cuFFT in place.
//
// Per call: one pass writes D x into the real (padded) layout of the spectrum buffer, an
// in-place R2C, one pass multiplies by conj(G) / n (the 1/n of the unnormalised C2R folded in),
// an in-place C2R, one pass gathers the kept rows. The only memory beyond input and output
// is that one complex spectrum per image (`work`). Plans are cached per (device, n, batch).
#include <cuda_runtime.h>
#include "cufft_api.h"

#include <map>
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

struct Plans {
  cufftHandle forward;  // R2C, in place, padded rows
  cufftHandle inverse;  // C2R, in place
};

Plans& plans_for(int64_t n, int64_t batch) {
  static std::mutex lock;
  static std::map<std::tuple<int, int64_t, int64_t>, Plans> cache;
  int device = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  std::lock_guard<std::mutex> guard(lock);
  const auto key = std::make_tuple(device, n, batch);
  auto found = cache.find(key);
  if (found != cache.end()) return found->second;
  if (n > INT32_MAX || batch > INT32_MAX) throw std::runtime_error("circulant sensing: n and batch must fit in 32 bits");
  int size = static_cast<int>(n);
  int half = static_cast<int>(n / 2 + 1);
  int padded = 2 * half;
  Plans plans{};
  check_cufft(cufftPlanMany(&plans.forward, 1, &size, &padded, 1, padded, &half, 1, half, CUFFT_R2C,
                            static_cast<int>(batch)), "cufftPlanMany(R2C)");
  check_cufft(cufftPlanMany(&plans.inverse, 1, &size, &half, 1, half, &padded, 1, padded, CUFFT_C2R,
                            static_cast<int>(batch)), "cufftPlanMany(C2R)");
  return cache.emplace(key, plans).first->second;
}

void spectral_product(float* work, const float* g_fft, int64_t batch, int64_t n, bool conjugate, cudaStream_t stream) {
  Plans& plans = plans_for(n, batch);
  const int64_t half = n / 2 + 1;
  check_cufft(cufftSetStream(plans.forward, stream), "cufftSetStream");
  check_cufft(cufftSetStream(plans.inverse, stream), "cufftSetStream");
  check_cufft(cufftExecR2C(plans.forward, work, reinterpret_cast<cufftComplex*>(work)), "cufftExecR2C");
  multiply_spectrum<<<blocks_for(batch * half), kThreads, 0, stream>>>(
      reinterpret_cast<float2*>(work), reinterpret_cast<const float2*>(g_fft), half, batch * half, conjugate,
      1.0f / static_cast<float>(n));
  check_cuda(cudaGetLastError(), "multiply_spectrum");
  check_cufft(cufftExecC2R(plans.inverse, reinterpret_cast<cufftComplex*>(work), work), "cufftExecC2R");
}

}  // namespace

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
