"""probdeg inside BasicSR: registration, building every name from YAML, errors, other plugins."""

import subprocess
import sys
import textwrap

import pytest
import torch
import yaml

from probdeg import DeResnet, FSDiscriminator, Probabilistic, StridedHAN

basicsr_glue = pytest.importorskip("probdeg.integrations.basicsr")
from basicsr.archs import build_network as basicsr_build_network  # noqa: E402
from basicsr.utils.registry import ARCH_REGISTRY  # noqa: E402

YAML_NETS = {
    "DeResnet": ("type: DeResnet\nscale: 2\nnum_feat: 16\nnum_blocks: 2", DeResnet, (1, 3, 8, 8)),
    "StridedHAN": ("type: StridedHAN\nnum_feat: 16\nnum_groups: 2\nnum_blocks: 1", StridedHAN, (1, 3, 4, 4)),
    "FSDiscriminator": ("type: FSDiscriminator\nfilter: gau\nnum_feat: 8", FSDiscriminator, (1, 1, 16, 16)),
    "Probabilistic": (textwrap.dedent("""\
        type: Probabilistic
        net:
          type: DeResnet
          scale: 4
          num_feat: 16
          num_blocks: 3
        sigma: conditional
        std: 0.05
        noise: per_channel
        """), Probabilistic, (1, 3, 4, 4)),
}


@pytest.mark.parametrize("name", sorted(basicsr_glue.ARCHS))
def test_basicsr_build_network_builds_every_registered_name_from_yaml(name):
    assert name in YAML_NETS, f"{name} is registered: add a YAML example of it to YAML_NETS"
    text, cls, out_shape = YAML_NETS[name]
    net = basicsr_build_network(yaml.safe_load(text))
    assert isinstance(net, cls)
    assert net(torch.rand(1, 3, 16, 16)).shape == out_shape


def test_probabilistic_from_yaml_uses_the_archs_released_points_and_options():
    net = basicsr_build_network(yaml.safe_load(YAML_NETS["Probabilistic"][0]))
    assert [p.name for p in net.points] == ["blocks.0", "blocks.1", "blocks.2"]
    assert net.config["sigma"] == "conditional" and net.config["noise"] == "per_channel"
    explicit = basicsr_build_network({"type": "Probabilistic", "net": {"type": "DeResnet", "num_feat": 8},
                                      "at": ["after:down.0"]})
    assert [(p.name, p.where) for p in explicit.points] == [("down.0", "after")]


def test_registration_is_idempotent_and_reports_the_names():
    from probdeg.integrations.basicsr.datasets import DATASETS
    from probdeg.integrations.basicsr.models import MODELS

    expected = [*basicsr_glue.ARCHS, *DATASETS, *MODELS]
    assert {"UnpairedImageDataset", "DegradationValDataset", "DegradationGANModel", "CollaborativeSRModel"} <= \
        set(expected)
    assert basicsr_glue.register() == {name: name for name in expected}
    assert basicsr_glue.register() == basicsr_glue.REGISTERED
    assert all(name in ARCH_REGISTRY for name in basicsr_glue.ARCHS)


def test_unknown_types_list_close_names():
    with pytest.raises(KeyError, match="did you mean DeResnet"):
        basicsr_glue.build_network({"type": "DeResNet"})
    with pytest.raises(KeyError, match="did you mean"):
        basicsr_glue.build_network({"type": "Probabilistic", "net": {"type": "StridedHan"}})
    with pytest.raises(KeyError, match="'type' key"):
        basicsr_glue.build_network({"scale": 4})
    with pytest.raises(TypeError, match="DeResnet"):
        basicsr_glue.build_network({"type": "DeResnet", "sacle": 4})


def test_another_plugin_owning_a_name_keeps_it_and_probdeg_falls_back(tmp_path):
    code = textwrap.dedent("""
        import sys, warnings
        import torchvision.transforms._functional_tensor as ft
        sys.modules["torchvision.transforms.functional_tensor"] = ft  # what the glue does, before the glue
        from basicsr.utils.registry import ARCH_REGISTRY
        import torch

        @ARCH_REGISTRY.register()
        class DeResnet(torch.nn.Module):  # another plugin's arch of the same name
            pass

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import probdeg.integrations.basicsr as glue
        from basicsr.archs import build_network
        assert glue.REGISTERED["DeResnet"] == "probdeg_DeResnet", glue.REGISTERED
        assert ARCH_REGISTRY.get("DeResnet") is DeResnet
        assert type(build_network({"type": "probdeg_DeResnet"})).__module__ == "probdeg.archs.deresnet"
        assert any("probdeg_DeResnet" in str(w.message) for w in caught)
        print("ok")
        """)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_basicsr_imports_after_the_glue_with_current_torchvision():
    import basicsr.data.degradations  # noqa: F401  (the module that imports functional_tensor)


def test_a_misspelt_network_option_names_the_key_and_the_close_match():
    with pytest.raises(TypeError, match="'sacle' \\(did you mean 'scale'\\?\\)"):
        basicsr_glue.build_network({"type": "DeResnet", "sacle": 4})
    with pytest.raises(TypeError, match="'sigam' \\(did you mean 'sigma'\\?\\)"):
        basicsr_glue.build_network({"type": "Probabilistic", "net": {"type": "DeResnet"}, "sigam": "channel"})
    with pytest.raises(TypeError, match="'num_blok' \\(did you mean 'num_block'\\?\\)"):  # BasicSR's own arch
        basicsr_glue.build_network({"type": "RRDBNet", "num_in_ch": 3, "num_out_ch": 3, "num_blok": 2})
