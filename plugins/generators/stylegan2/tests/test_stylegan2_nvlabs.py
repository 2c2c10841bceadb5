"""NVlabs stylegan2-ada-pytorch ``.pkl``: a synthetic snapshot with the real pickle structure, and a malicious one."""

import dataclasses
import os
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from invprob_plugin_stylegan2.convert import main as convert_main
from invprob_plugin_stylegan2.generator import random_stylegan2
from invprob_plugin_stylegan2.loading import StyleGAN2CheckpointError, load_stylegan2
from invprob_plugin_stylegan2.networks import StyleGAN2Config
from invprob_plugin_stylegan2.nvlabs import UnsafePickleError

TINY = StyleGAN2Config(size=16, style_dim=8, n_mlp=2, channels={4: 8, 8: 8, 16: 4})


@pytest.fixture
def nvlabs_modules(monkeypatch, tmp_path):
    """``torch_utils.persistence`` and ``dnnlib.util`` as importable names, so that pickle writes the
    same globals stylegan2-ada-pytorch's snapshots hold. The "module source" stored in each object
    would create a marker file if anyone executed it."""
    marker = tmp_path / "executed"
    persistence = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # what NVlabs' loader does: exec(meta['module_src']) ...
        raise AssertionError("the real persistence loader must never be called")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    dnnlib_util = types.ModuleType("dnnlib.util")

    class EasyDict(dict):
        pass

    EasyDict.__module__ = "dnnlib.util"
    EasyDict.__qualname__ = "EasyDict"
    dnnlib_util.EasyDict = EasyDict
    for name, module in {
        "torch_utils": types.ModuleType("torch_utils"), "torch_utils.persistence": persistence,
        "dnnlib": types.ModuleType("dnnlib"), "dnnlib.util": dnnlib_util,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    source = f"open({str(marker)!r}, 'w').write('ran')\n"
    return types.SimpleNamespace(reconstruct=_reconstruct_persistent_obj, EasyDict=EasyDict, source=source, marker=marker)


def _persistent(mods, class_name, **attrs):
    """An ``nn.Module`` that pickles like a ``@persistence.persistent_class`` object (version 6)."""

    class Persistent(nn.Module):
        def __reduce__(self):
            meta = dict(type="class", version=6, module_src=mods.source, class_name=class_name, state=dict(self.__dict__))
            return (mods.reconstruct, (meta,), None)

    module = Persistent()
    for name, value in attrs.items():
        if isinstance(value, nn.Module):
            module.add_module(name, value)
        elif isinstance(value, nn.Parameter):
            module.register_parameter(name, value)
        elif isinstance(value, torch.Tensor):
            module.register_buffer(name, value)
        else:
            setattr(module, name, value)
    return module


def _ada_snapshot(mods, generator, *, g_arch="skip", d_arch="resnet"):
    """G_ema/D with stylegan2-ada-pytorch's module names and state layout (the attributes its
    ``__init__`` stores: ``FullyConnectedLayer`` keeps ``weight_gain`` and ``bias_gain``, never
    ``lr_multiplier``), holding ``generator``'s weights."""
    g, d = generator.g_ema.state_dict(), generator.discriminator.state_dict()
    P = lambda t: nn.Parameter(t.clone())  # noqa: E731
    filt = torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 64

    def fc(prefix, lr=1.0):
        return _persistent(mods, "FullyConnectedLayer", weight=P(g[f"{prefix}.weight"]), bias=P(g[f"{prefix}.bias"]),
                           activation="lrelu", weight_gain=np.float64(lr / np.sqrt(8)), bias_gain=lr)

    def layer(prefix, noise, res):
        return _persistent(mods, "SynthesisLayer", resample_filter=filt.clone(), affine=_persistent(
            mods, "FullyConnectedLayer", weight=P(g[f"{prefix}.conv.modulation.weight"]), bias=P(g[f"{prefix}.conv.modulation.bias"])),
            weight=P(g[f"{prefix}.conv.weight"][0]), noise_const=g[f"noises.noise_{noise}"][0, 0].clone(),
            noise_strength=P(g[f"{prefix}.noise.weight"].reshape(())), bias=P(g[f"{prefix}.activate.bias"]),
            resolution=res, conv_clamp=None, act_gain=np.float64(np.sqrt(2)))

    def torgb(prefix):
        return _persistent(mods, "ToRGBLayer", affine=_persistent(
            mods, "FullyConnectedLayer", weight=P(g[f"{prefix}.conv.modulation.weight"]), bias=P(g[f"{prefix}.conv.modulation.bias"])),
            weight=P(g[f"{prefix}.conv.weight"][0]), bias=P(g[f"{prefix}.bias"].reshape(3)), conv_clamp=None)

    mapping = _persistent(mods, "MappingNetwork", z_dim=8, w_dim=8, num_ws=6, num_layers=2,
                          fc0=fc("style.1", generator.config.lr_mlp), fc1=fc("style.2", generator.config.lr_mlp), w_avg=generator.latent_avg[0].clone())
    blocks = {"b4": _persistent(mods, "SynthesisBlock", const=P(g["input.input"][0]), resample_filter=filt.clone(),
                                conv1=layer("conv1", 0, 4), torgb=torgb("to_rgb1"), architecture=g_arch)}
    for k, res in ((1, 8), (2, 16)):
        blocks[f"b{res}"] = _persistent(mods, "SynthesisBlock", resample_filter=filt.clone(), architecture=g_arch,
                                        conv0=layer(f"convs.{2 * k - 2}", 2 * k - 1, res),
                                        conv1=layer(f"convs.{2 * k - 1}", 2 * k, res), torgb=torgb(f"to_rgbs.{k - 1}"))
    synthesis = _persistent(mods, "SynthesisNetwork", block_resolutions=[4, 8, 16], **blocks)
    g_ema = _persistent(mods, "Generator", z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3,
                        _init_kwargs=mods.EasyDict(z_dim=8, c_dim=0, mapping_kwargs=mods.EasyDict(num_layers=2)),
                        synthesis=synthesis, mapping=mapping)

    def conv(w, b=None):
        attrs = dict(weight=P(w), resample_filter=filt.clone(), activation="lrelu", conv_clamp=None)
        if b is not None:
            attrs["bias"] = P(b)
        return _persistent(mods, "Conv2dLayer", **attrs)

    dblocks = {}
    for j, res in ((1, 16), (2, 8)):
        attrs = dict(resample_filter=filt.clone(), architecture=d_arch, conv0=conv(d[f"convs.{j}.conv1.0.weight"], d[f"convs.{j}.conv1.1.bias"]),
                     conv1=conv(d[f"convs.{j}.conv2.1.weight"], d[f"convs.{j}.conv2.2.bias"]),
                     skip=conv(d[f"convs.{j}.skip.1.weight"]))
        if res == 16:
            attrs["fromrgb"] = conv(d["convs.0.0.weight"], d["convs.0.1.bias"])
        dblocks[f"b{res}"] = _persistent(mods, "DiscriminatorBlock", **attrs)
    lin = lambda name: _persistent(mods, "FullyConnectedLayer", weight=P(d[f"{name}.weight"]), bias=P(d[f"{name}.bias"]))  # noqa: E731
    dblocks["b4"] = _persistent(mods, "DiscriminatorEpilogue", architecture=d_arch, mbstd=_persistent(mods, "MinibatchStdLayer", group_size=2, num_channels=1),
                                conv=conv(d["final_conv.0.weight"], d["final_conv.1.bias"]), fc=lin("final_linear.0"), out=lin("final_linear.1"))
    disc = _persistent(mods, "Discriminator", c_dim=0, img_resolution=16, **dblocks)
    return {"G": g_ema, "D": disc, "G_ema": g_ema, "augment_pipe": None,
            "training_set_kwargs": mods.EasyDict(path="faces.zip", resolution=16)}


@pytest.fixture
def snapshot(nvlabs_modules, tmp_path):
    generator = random_stylegan2(TINY, seed=4)
    with torch.no_grad():
        for module in generator.g_ema.modules():
            if type(module).__name__ == "NoiseInjection":
                module.weight.fill_(0.3)
    path = tmp_path / "network-snapshot-000100.pkl"
    with open(path, "wb") as handle:
        pickle.dump(_ada_snapshot(nvlabs_modules, generator), handle)
    return path, generator, nvlabs_modules


def test_the_synthetic_snapshot_has_nvlabs_pickle_globals(snapshot):
    path, _, _ = snapshot
    import pickletools

    opcodes = [str(arg) for op, arg, _ in pickletools.genops(path.read_bytes()) if op.name in ("GLOBAL", "STACK_GLOBAL", "SHORT_BINUNICODE", "BINUNICODE")]
    text = " ".join(opcodes)
    for name in ("torch_utils.persistence", "_reconstruct_persistent_obj", "torch._utils", "_load_from_bytes", "dnnlib.util", "numpy"):
        assert name in text, name


def test_nvlabs_pickle_loads_to_the_same_model_without_running_its_code(snapshot):
    path, original, mods = snapshot
    loaded = load_stylegan2(path)
    assert not mods.marker.exists(), "the module source embedded in the pickle was executed"
    assert loaded.config == dataclasses.replace(TINY, stddev_group=2)
    latents = original.sample_latent(2, torch.Generator().manual_seed(0))
    torch.testing.assert_close(loaded(latents), original(latents), rtol=0, atol=0)
    torch.testing.assert_close(loaded.latent_avg, original.latent_avg, rtol=0, atol=0)
    image = original(latents)
    assert loaded.config.stddev_group == 2, "the snapshot's minibatch-stddev group size"
    original.discriminator.stddev_group = 2
    torch.testing.assert_close(loaded.discriminator(image), original.discriminator(image), rtol=0, atol=0)


def test_pkl_to_safetensors_round_trip(snapshot, tmp_path):
    path, original, mods = snapshot
    out = tmp_path / "converted.safetensors"
    assert convert_main([str(path), str(out)]) == 0
    converted = load_stylegan2(out)
    latents = original.sample_latent(2, torch.Generator().manual_seed(1))
    torch.testing.assert_close(converted(latents), original(latents), rtol=0, atol=0)
    assert not mods.marker.exists()


class _RunsACommand:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _write(path, data):
    with open(path, "wb") as handle:
        pickle.dump(data, handle)
    return path


def test_the_mapping_lr_multiplier_comes_from_the_stored_gains_not_an_invented_attribute(nvlabs_modules, tmp_path):
    original = random_stylegan2(dataclasses.replace(TINY, lr_mlp=0.1), seed=6)
    with torch.no_grad():
        for name, p in original.g_ema.style.named_parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)) * 3)  # biases that matter
    path = _write(tmp_path / "maplr.pkl", _ada_snapshot(nvlabs_modules, original))
    loaded = load_stylegan2(path)
    assert loaded.config.lr_mlp == pytest.approx(0.1, rel=1e-12)
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(loaded.g_ema.get_latent(z), original.g_ema.get_latent(z), rtol=1e-6, atol=1e-6)


def test_a_d_of_another_architecture_is_skipped_without_the_discriminator(nvlabs_modules, tmp_path):
    generator = random_stylegan2(TINY, seed=5)
    path = _write(tmp_path / "skip-d.pkl", _ada_snapshot(nvlabs_modules, generator, d_arch="skip"))
    with pytest.raises(StyleGAN2CheckpointError) as error:
        load_stylegan2(path)
    message = str(error.value)
    assert "D has architecture 'skip'" in message and "discriminator: false" in message and "--no-discriminator" in message
    loaded = load_stylegan2(path, discriminator=False)
    assert loaded.discriminator is None
    latents = generator.sample_latent(2, torch.Generator().manual_seed(0))
    torch.testing.assert_close(loaded(latents), generator(latents), rtol=0, atol=0)
    out = tmp_path / "g.safetensors"
    assert convert_main([str(path), str(out), "--no-discriminator"]) == 0
    torch.testing.assert_close(load_stylegan2(out)(latents), generator(latents), rtol=0, atol=0)


@pytest.mark.parametrize("arch", ["orig", "resnet"])
def test_a_generator_of_another_architecture_is_refused_by_name(nvlabs_modules, tmp_path, arch):
    path = _write(tmp_path / f"{arch}.pkl", _ada_snapshot(nvlabs_modules, random_stylegan2(TINY, seed=5), g_arch=arch))
    with pytest.raises(StyleGAN2CheckpointError, match=f"G_ema's synthesis has architecture '{arch}' .*only 'skip' is supported"):
        load_stylegan2(path, discriminator=False)


def test_a_pickle_crafted_to_run_a_command_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    with open(path, "wb") as handle:
        pickle.dump({"G_ema": _RunsACommand(marker)}, handle)
    with pytest.raises(UnsafePickleError) as error:
        load_stylegan2(path)
    message = str(error.value)
    assert "evil.pkl" in message and "refused to unpickle" in message and "system" in message and "\n" not in message
    assert not marker.exists()
    assert convert_main([str(path), str(tmp_path / "evil.safetensors")]) == 2, "a refused file is bad input: exit 2"
    assert not marker.exists() and not (tmp_path / "evil.safetensors").exists()


def test_unknown_classes_are_refused(tmp_path):
    path = tmp_path / "odd.pkl"
    path.write_bytes(b"ctraining.networks\nFoo\n.")  # GLOBAL training.networks.Foo, STOP
    with pytest.raises(UnsafePickleError, match="odd.pkl: refused to unpickle training.networks.Foo"):
        load_stylegan2(path)


def test_truncated_pickle_gives_one_line(snapshot, tmp_path):
    path, _, _ = snapshot
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(StyleGAN2CheckpointError, match="cut.pkl: cannot read it as an NVlabs .pkl"):
        load_stylegan2(cut)
