"""The entry-point module stays light, so ``invprob plugins``/``validate`` answer at once."""

import subprocess
import sys


def test_entry_point_module_imports_no_torch():
    code = "import sys, invprob_plugin_dcgan.plugin; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False", "invprob_plugin_dcgan.plugin must import torch only inside factories"


def test_components_and_commands_are_registered(dcgan_registry):
    assert {"dcgan", "dcgan32-celeba", "dcgan64-faces"} <= set(dcgan_registry.names("generators"))
    assert {("train", "dcgan"), ("convert", "dcgan")} <= set(dcgan_registry.commands)
