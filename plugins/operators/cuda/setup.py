"""The compiled part is built only on request (``INVPROB_CUDA_BUILD=1``), ahead of time:

    INVPROB_CUDA_BUILD=1 TORCH_CUDA_ARCH_LIST="9.0" pip install --no-build-isolation plugins/operators/cuda

(9.0 = H100/H200; list several, e.g. "8.0;8.6;9.0", for other GPUs). Without it the package is
pure Python and installs anywhere; on a GPU machine the kernels can then be built just in time
(``INVPROB_CUDA_JIT=1``, see the README).
"""

import os

from setuptools import setup

ext_modules, cmdclass = [], {}
if os.environ.get("INVPROB_CUDA_BUILD") == "1":
    from torch.utils.cpp_extension import BuildExtension, CUDAExtension

    sources = [f"invprob_plugin_cuda/csrc/{name}" for name in ("bindings.cpp", "circulant.cu", "l1_ball.cu")]
    ext_modules = [
        CUDAExtension(
            "invprob_plugin_cuda._C",
            sources,
            libraries=["cufft"],
            extra_compile_args={"cxx": ["-O3"], "nvcc": ["-O3", "-lineinfo"]},
        )
    ]
    cmdclass = {"build_ext": BuildExtension}

setup(ext_modules=ext_modules, cmdclass=cmdclass)
