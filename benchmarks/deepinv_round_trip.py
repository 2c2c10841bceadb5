"""Round trip of invprob-plugin-deepinv against the real deepinv (run in a separate env that has it).

    python -m venv deepinv-env && deepinv-env/bin/pip install torch==2.13.0 deepinv -e . -e plugins/operators/imaging \
        -e plugins/adapters/deepinv
    deepinv-env/bin/python benchmarks/deepinv_round_trip.py

Prints the relative adjointness defects and conversion errors; every line should end "ok".
"""

from __future__ import annotations

import deepinv as dinv
import torch

import invprob
from invprob_plugin_deepinv import from_deepinv, to_deepinv
from invprob.testing.operators import check_adjointness


def report(what: str, value: float, tol: float) -> None:
    print(f"{what:70s} {value:.2e}  {'ok' if value <= tol else 'FAILED'}")


def main() -> None:
    torch.manual_seed(0)
    shape = (3, 24, 20)
    u = torch.rand(2, *shape, dtype=torch.float64)
    x = 2 * u - 1
    kernel = torch.tensor([[0.0, 1, 2], [3, 4, 0], [0, 5, 0]], dtype=torch.float64)
    kernel = (kernel / kernel.sum())[None, None]
    for name, physics in {
        "Blur (non-symmetric kernel, valid)": dinv.physics.Blur(filter=kernel, padding="valid"),
        "Inpainting (mask 0.5)": dinv.physics.Inpainting(img_size=shape, mask=0.5),
        "Downsampling (factor 2, bicubic)": dinv.physics.Downsampling(img_size=shape, factor=2, filter="bicubic"),
    }.items():
        physics = physics.double()
        public = from_deepinv(physics, image_shape=shape)  # on [0, 1]: the physics' own map
        report(f"{name}: from_deepinv(physics).A(u) vs A_d(u)", (public.A(u) - physics.A(u)).abs().max().item(), 1e-12)
        operator = public.operator  # on [-1, 1], as solvers use it
        report(f"{name}: invprob adjointness of from_deepinv", check_adjointness(operator, shape, dtype=torch.float64), 1e-10)
        y_d = physics.A(u)
        error = (operator.A(x) - operator.from_deepinv_measurement(y_d)).abs().max().item()
        report(f"{name}: A(2u-1) vs 2 A_d(u) - A_d(1)", error, 1e-12)
        back = (operator.to_deepinv_measurement(operator.A(x)) - y_d).abs().max().item()
        report(f"{name}: measurement round trip", back, 1e-12)
    noisy = dinv.physics.Inpainting(img_size=shape, mask=1.0, noise_model=dinv.physics.GaussianNoise(sigma=0.05))
    operator = from_deepinv(noisy, image_shape=shape).operator
    zeros = torch.zeros(8, *shape)
    std = (operator(zeros, torch.Generator().manual_seed(0)) - zeros).std().item()
    report("GaussianNoise(0.05) in invprob units: |std - 0.1|", abs(std - 0.1), 0.005)
    same = (operator(zeros, torch.Generator().manual_seed(0)) - operator(zeros, torch.Generator().manual_seed(0))).abs().max()
    report("noise seeded by the run's generator: difference of two draws", same.item(), 0.0)
    blur = invprob.build_operator("blur", image_shape=shape, kernel=kernel[0, 0].tolist(), padding="valid").double()
    physics = to_deepinv(blur, shape)
    report("to_deepinv(blur): deepinv's own adjointness_test", abs(physics.adjointness_test(u).item()), 1e-10)
    report("to_deepinv(blur): A_d(u) vs invprob A(u)", (physics.A(u) - blur.A(u)).abs().max().item(), 1e-12)
    deepinv_blur = dinv.physics.Blur(filter=kernel, padding="valid").double()
    report("invprob blur vs deepinv Blur, same kernel, valid padding", (blur.A(u) - deepinv_blur.A(u)).abs().max().item(), 1e-12)


if __name__ == "__main__":
    main()
