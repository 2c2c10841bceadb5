"""Finding, building and compile-checking the compiled part (``invprob_plugin_cuda._C``).

Three ways to get it:

- ahead of time, when the package is installed with ``INVPROB_CUDA_BUILD=1`` (``setup.py``);
- just in time on the GPU machine, with ``INVPROB_CUDA_JIT=1`` (``torch.utils.cpp_extension.load``,
  cached under ``TORCH_EXTENSIONS_DIR``, about a minute the first time);
- never: the plugin then keeps the core's plain-torch kernels and says once what is missing.

:func:`compile_check` compiles every source without a GPU or the cuFFT package (``nvcc -c``
for the CUDA files, ``c++ -fsyntax-only`` for the bindings), so CI catches a build break.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

CSRC = Path(__file__).resolve().parent / "csrc"
CUDA_SOURCES = ("circulant.cu", "l1_ball.cu")
CXX_SOURCES = ("bindings.cpp",)
JIT_NAME = "invprob_plugin_cuda_jit"


class CompileError(RuntimeError):
    """A source did not compile: the command and the compiler's output."""


class KernelsUnavailable(RuntimeError):
    """The compiled kernels cannot be used here; the message says why and how to get them."""


def load_extension() -> ModuleType:
    """The compiled module: the ahead-of-time build, else (``INVPROB_CUDA_JIT=1``) a JIT build."""
    try:
        return importlib.import_module("invprob_plugin_cuda._C")
    except ImportError as exc:
        aot_error = exc
    if os.environ.get("INVPROB_CUDA_JIT") != "1":
        raise KernelsUnavailable(
            f"the compiled kernels are not built ({aot_error}); build them ahead of time with "
            "INVPROB_CUDA_BUILD=1 TORCH_CUDA_ARCH_LIST=9.0 pip install --no-build-isolation <plugin folder>, "
            "or set INVPROB_CUDA_JIT=1 to build them on first use"
        )
    return jit_build()


def jit_build(verbose: bool = False) -> ModuleType:
    """Build the extension with ``torch.utils.cpp_extension.load`` (needs nvcc and cuFFT)."""
    from torch.utils.cpp_extension import load

    sources = [str(CSRC / name) for name in (*CXX_SOURCES, *CUDA_SOURCES)]
    try:
        return load(JIT_NAME, sources, extra_cflags=["-O3"], extra_cuda_cflags=["-O3", "-lineinfo"],
                    extra_ldflags=["-lcufft"], verbose=verbose)  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - a compiler's failure, reported in one line
        raise KernelsUnavailable(f"building the CUDA kernels failed: {str(exc).strip().splitlines()[-1]}") from exc


def cuda_home() -> Path | None:
    """The CUDA toolkit: ``$CUDA_HOME``/``$CUDA_PATH``, else ``/usr/local/cuda``, else the folder
    above nvcc's on the PATH (following links); the first with ``bin/nvcc`` and the runtime's
    headers."""
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]
    on_path = shutil.which("nvcc")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent.parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "bin" / "nvcc").is_file() and (
            Path(candidate) / "include" / "cuda_runtime_api.h"
        ).is_file():
            return Path(candidate)
    return None


def find_nvcc() -> str | None:
    """nvcc of :func:`cuda_home`, else nvcc on the PATH."""
    home = cuda_home()
    return str(home / "bin" / "nvcc") if home is not None else shutil.which("nvcc")


def compile_check(out: Path, *, arch: str = "sm_90") -> list[str]:
    """Compile every source (objects into ``out``); the commands run. A build break raises
    :class:`CompileError` with the command and the compiler's last lines."""
    from torch.utils.cpp_extension import include_paths

    nvcc = find_nvcc()
    if nvcc is None:
        raise KernelsUnavailable("nvcc not found (set CUDA_HOME or put nvcc on the PATH)")
    home = cuda_home()
    cuda_include = (home if home is not None else Path(nvcc).resolve().parent.parent) / "include"
    commands = [[nvcc, "-std=c++17", "-O3", f"-arch={arch}", "-c", str(CSRC / name), "-o", str(out / f"{name}.o")]
                for name in CUDA_SOURCES]  # fmt: skip
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or "c++"
    includes = [f"-I{path}" for path in [*include_paths(), sysconfig.get_paths()["include"], str(cuda_include)]]
    commands += [[cxx, "-std=c++20", "-fsyntax-only", *includes, "-DTORCH_EXTENSION_NAME=invprob_plugin_cuda_C",
                  str(CSRC / name)] for name in CXX_SOURCES]  # fmt: skip
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-20:])
            raise CompileError(f"{' '.join(command)}\nexited with {done.returncode}:\n{tail}")
    return [" ".join(command) for command in commands]


if __name__ == "__main__":  # python -m invprob_plugin_cuda.build: JIT-build now and say where
    module = jit_build(verbose="-v" in sys.argv)
    print(f"built {module.__file__}")
