// Python bindings of invprob-plugin-cuda's kernels: checks and allocation. The caller (the
// plugin's Python wrappers, registered as the CUDA kernels of the core's ops) makes the tensors'
// device current and passes torch's current stream as an integer handle, so that this file
// needs no c10/cuda header (CPU builds of torch, where CI compile-checks it, lack some of them).
#include <torch/extension.h>
#include <cuda_runtime_api.h>

#include "kernels.h"

namespace {

void check_input(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.is_cuda(), name, " must be a CUDA tensor");
  TORCH_CHECK(t.scalar_type() == at::kFloat, name, " must be float32 (other dtypes use the plain-torch kernel)");
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
}

const int64_t* rows_pointer(const c10::optional<at::Tensor>& rows, int64_t m) {
  if (!rows.has_value()) return nullptr;
  TORCH_CHECK(rows->is_cuda() && rows->scalar_type() == at::kLong && rows->is_contiguous() && rows->numel() == m,
              "rows must be a contiguous int64 CUDA tensor of length m");
  return rows->data_ptr<int64_t>();
}

at::Tensor circulant_sense(const at::Tensor& x, const at::Tensor& g_fft, const at::Tensor& signs,
                           const c10::optional<at::Tensor>& rows, int64_t m,
                           int64_t stream) {
  check_input(x, "x");
  check_input(g_fft, "g_fft");
  check_input(signs, "signs");
  const int64_t n = signs.size(-1);
  TORCH_CHECK(x.size(-1) == n, "x has ", x.size(-1), " entries per row; signs has ", n);
  const int64_t batch = n == 0 ? 0 : x.numel() / n;
  auto sizes = x.sizes().vec();
  sizes.back() = m;
  at::Tensor y = at::empty(sizes, x.options());
  if (batch == 0 || m == 0) return y;
  at::Tensor work = at::empty({batch, 2 * (n / 2 + 1)}, x.options());
  invprob_cuda::circulant_sense(x.data_ptr<float>(), g_fft.data_ptr<float>(), signs.data_ptr<float>(),
                                rows_pointer(rows, m), y.data_ptr<float>(), work.data_ptr<float>(), batch, n, m,
                                reinterpret_cast<cudaStream_t>(stream));
  return y;
}

at::Tensor circulant_sense_adjoint(const at::Tensor& y, const at::Tensor& g_fft, const at::Tensor& signs,
                                   const c10::optional<at::Tensor>& rows, int64_t stream) {
  check_input(y, "y");
  check_input(g_fft, "g_fft");
  check_input(signs, "signs");
  const int64_t n = signs.size(-1);
  const int64_t m = y.size(-1);
  const int64_t batch = m == 0 ? 0 : y.numel() / m;
  auto sizes = y.sizes().vec();
  sizes.back() = n;
  if (batch == 0) return at::zeros(sizes, y.options());
  at::Tensor x = at::empty(sizes, y.options());
  at::Tensor work = at::empty({batch, 2 * (n / 2 + 1)}, y.options());
  invprob_cuda::circulant_sense_adjoint(y.data_ptr<float>(), g_fft.data_ptr<float>(), signs.data_ptr<float>(),
                                        rows_pointer(rows, m), x.data_ptr<float>(), work.data_ptr<float>(), batch, n,
                                        m, reinterpret_cast<cudaStream_t>(stream));
  return x;
}

at::Tensor project_l1_ball(const at::Tensor& v, const at::Tensor& centre, double radius, int64_t stream) {
  check_input(v, "v");
  check_input(centre, "centre");
  TORCH_CHECK(v.sizes() == centre.sizes(), "the centre must have the shape of v");
  TORCH_CHECK(radius >= 0, "the l1 ball needs radius >= 0");
  at::Tensor out = at::empty_like(v);
  const int64_t batch = v.size(0);
  const int64_t length = batch == 0 ? 0 : v.numel() / batch;
  if (batch == 0 || length == 0) return out.copy_(v);
  at::Tensor scratch = at::empty({invprob_cuda::l1_ball_scratch_doubles(batch, length)}, v.options().dtype(at::kDouble));
  invprob_cuda::project_l1_ball(v.data_ptr<float>(), centre.data_ptr<float>(), radius, out.data_ptr<float>(),
                                scratch.data_ptr<double>(), batch, length, reinterpret_cast<cudaStream_t>(stream));
  return out;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, module) {
  module.doc() = "invprob-plugin-cuda: fused circulant sensing and l1-ball projection (float32, CUDA)";
  module.def("circulant_sense", &circulant_sense, "y = S_m C_g D x");
  module.def("circulant_sense_adjoint", &circulant_sense_adjoint, "x = D C_g^T S_m^T y");
  module.def("project_l1_ball", &project_l1_ball, "rows of v projected onto l1 balls around centre");
  module.def("cached_plans", &invprob_cuda::cached_plans, "cuFFT plan-cache entries now");
  module.def("max_cached_plans", &invprob_cuda::max_cached_plans, "the most plan-cache entries kept (LRU)");
}
