"""`Probabilistic` on nets it has never seen: identity at init, sampling, weights, points, summary."""

import copy

import pytest
import torch
from helpers import ResBlock, ResidualNet, StridedTailNet, randomise_injections, sequential_net
from torch import nn

from probdeg import Probabilistic, param_groups

X = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("sigma", ["channel", "conditional"])
@pytest.mark.parametrize("where", ["before", "after"])
def test_fresh_wrap_is_bit_identical_to_the_bare_net(any_net, sigma, where):
    expected = any_net(X)
    G = Probabilistic(any_net, where=where, sigma=sigma, mean_shift=sigma == "conditional")
    G.eval()
    out = G(X)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    assert torch.equal(out, expected)


def test_trained_latents_make_samples_that_differ_and_seeds_that_repeat(any_net):
    G = Probabilistic(any_net)
    randomise_injections(G, 0.5)
    G.eval()  # sampling stays on in eval mode: the generator is sampled to make data
    a, b = G(X), G(X)
    assert not torch.equal(a, b)
    assert torch.equal(G(X, seed=3), G(X, seed=3))
    assert not torch.equal(G(X, seed=3), G(X, seed=4))
    gen_a, gen_b = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert torch.equal(G(X, generator=gen_a), G(X, generator=gen_b))


def test_mean_mode_is_deterministic_and_temperature_zero_equals_it(any_net):
    G = Probabilistic(any_net, sigma="conditional", mean_shift=True)
    randomise_injections(G, 0.1)
    m1, m2 = G(X, mode="mean"), G(X, mode="mean")
    assert torch.equal(m1, m2)
    assert torch.equal(G(X, temperature=0.0), m1)
    G.set_sampling(mode="mean")
    assert torch.equal(G(X), m1)
    G.set_sampling(mode="random")
    assert not torch.equal(G(X), m1)


def test_temperature_scales_the_spread_of_samples():
    G = Probabilistic(ResidualNet(), at="blocks.*")
    randomise_injections(G, 0.2)
    mean = G(X, mode="mean")
    spread_1 = (G(X, n_samples=16, temperature=1.0) - mean.unsqueeze(1)).std()
    spread_half = (G(X, n_samples=16, temperature=0.5) - mean.unsqueeze(1)).std()
    assert 0.3 < (spread_half / spread_1).item() < 0.7


def test_n_samples_per_image_in_one_call():
    G = Probabilistic(StridedTailNet())
    randomise_injections(G, 0.5)
    out = G(X, n_samples=4, seed=0)
    assert out.shape == (2, 4, 3, 8, 8)
    assert not torch.equal(out[:, 0], out[:, 1])
    # every sample is a sample of its own image: the mean-mode output of that image is the centre of its samples
    centre = G(X, mode="mean")
    many = G(X, n_samples=64, seed=1)
    assert (many.mean(1) - centre).abs().mean() < (many[:, 0] - centre).abs().mean()


def test_every_parameter_gets_a_gradient(any_net):
    G = Probabilistic(any_net, sigma="conditional", mean_shift=True)
    randomise_injections(G, 0.3)
    G(X).square().mean().backward()
    for name, p in G.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_at_init_the_noise_strength_gets_a_gradient_so_training_can_switch_noise_on():
    G = Probabilistic(ResidualNet(), at="blocks.*")
    G(X).square().mean().backward()
    assert all(layer.weight.grad.abs().sum() > 0 for layer in G.injections)


def test_points_by_name_pattern_type_predicate_and_position():
    net = ResidualNet(blocks=3)
    by_pattern = Probabilistic(net, at="blocks.*")
    assert [p.name for p in by_pattern.points] == ["blocks.0", "blocks.1", "blocks.2"]
    by_pattern.unwrap()
    by_type = Probabilistic(net, at=ResBlock, where="after")
    assert [(p.name, p.where) for p in by_type.points] == [("blocks.0", "after"), ("blocks.1", "after"),
                                                           ("blocks.2", "after")]
    by_type.unwrap()
    by_type_name = Probabilistic(net, at=["type:ResBlock"])
    assert len(by_type_name.points) == 3
    by_type_name.unwrap()
    by_predicate = Probabilistic(net, at=lambda name, m: name.endswith("conv2"))
    assert [p.name for p in by_predicate.points] == ["blocks.0.conv2", "blocks.1.conv2", "blocks.2.conv2"]
    by_predicate.unwrap()
    mixed = Probabilistic(net, at=["after:blocks.2", "before:tail", "blocks.0"])
    assert [(p.name, p.where) for p in mixed.points] == [("blocks.0", "before"), ("blocks.2", "after"),
                                                         ("tail", "before")]


def test_auto_points_skip_image_facing_and_pooled_features():
    squeeze = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Conv2d(8, 8, 1))
    G = Probabilistic(nn.Sequential(sequential_net(), nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()))
    assert [p.name for p in G.points] == ["0.2", "0.4"]  # convs whose input is a feature map
    with pytest.raises(ValueError, match="no injection point"):
        Probabilistic(squeeze)
    G = Probabilistic(ResidualNet(blocks=20), max_points=5)
    assert len(G.points) == 5


def test_auto_points_are_spread_and_capped():
    net = ResidualNet(blocks=12)  # 24 block convs + the tail conv's feature input = 25 candidates
    G = Probabilistic(net)
    assert len(G.points) == 16
    assert G.points[0].name == "blocks.0.conv1" and G.points[-1].name.startswith("blocks.11")


def test_unknown_point_names_suggest_close_ones():
    with pytest.raises(ValueError, match="blocks.0"):
        Probabilistic(ResidualNet(), at="block.0")


def test_print_and_summary_show_where_the_latents_went():
    G = Probabilistic(StridedTailNet(), at=["features.2", "after:down.0"])
    text = G.summary()
    assert "features.2" in text and "down.0" in text
    assert "32x32 (1/2)" in text and "64x64" in text
    assert "before:features.2" in repr(G) and "after:down.0" in repr(G)


def test_deterministic_weights_load_without_renaming_and_unwrap_gives_the_plain_net():
    torch.manual_seed(0)
    pretrained = ResidualNet()
    torch.manual_seed(1)
    G = Probabilistic(ResidualNet(), at="blocks.*")
    G.load_state_dict(pretrained.state_dict())  # bare keys, strict
    assert torch.equal(G(X), pretrained(X))
    randomise_injections(G)
    full = copy.deepcopy(G.state_dict())
    G2 = Probabilistic(ResidualNet(), at="blocks.*")
    G2.load_state_dict(full)
    assert torch.equal(G2(X, seed=0), G(X, seed=0))
    plain = G.unwrap()
    assert type(plain) is ResidualNet
    assert torch.equal(plain(X), pretrained(X))
    assert set(plain.state_dict()) == set(pretrained.state_dict())


def test_deepcopy_keeps_each_copy_tied_to_its_own_latents():
    G = Probabilistic(ResidualNet(), at="blocks.*")
    twin = copy.deepcopy(G)
    randomise_injections(twin)
    assert torch.equal(G(X), G.net.tail(G.net.blocks(G.net.head(X))))  # the original is still deterministic
    assert not torch.equal(twin(X), G(X))


def test_param_groups_give_the_injections_their_own_lr():
    G = Probabilistic(ResidualNet(), sigma="conditional")
    groups = G.param_groups(lr=1e-4, injection_lr=1e-3)
    assert [g["name"] for g in groups] == ["net", "injection"]
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in G.injection_parameters()}
    assert len(groups[0]["params"]) + len(groups[1]["params"]) == len(list(G.parameters()))
    opt = torch.optim.Adam(groups, betas=(0.5, 0.999))
    assert [g["lr"] for g in opt.param_groups] == [1e-4, 1e-3]
    assert len(param_groups(ResidualNet(), lr=1.0)) == 1


def test_wrapping_twice_and_bad_options_fail_clearly():
    G = Probabilistic(ResidualNet())
    with pytest.raises(TypeError, match="already Probabilistic"):
        Probabilistic(G)
    with pytest.raises(ValueError, match="where"):
        Probabilistic(ResidualNet(), where="inside")
    with pytest.raises(ValueError, match="mode"):
        G(X, mode="median")
    with pytest.raises(ValueError, match="either seed or generator"):
        G(X, seed=1, generator=torch.Generator())
