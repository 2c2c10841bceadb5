"""invprob-plugin-cuda: CUDA kernels for the core's ops (``invprob.ops``).

Installing it makes every recipe that senses with a partial circulant matrix or projects onto
an l1 ball faster on NVIDIA GPUs, with no change to any recipe: on a CUDA device, the plugin's
``invprob_setup_runtime`` hook registers these kernels for the core's op names.
"""

__version__ = "0.1.0"
