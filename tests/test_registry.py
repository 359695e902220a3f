"""probdeg.registry: one arch table, a resolver for the rest, and one-line errors that name the type and the key."""

from __future__ import annotations

import pytest
from helpers import sequential_net
from torch import nn

from probdeg import DeResnet, FSDiscriminator, Probabilistic, StridedHAN
from probdeg.registry import ARCHS, NetworkArgumentError, UnknownNetworkError, build_network


def test_probdegs_archs_build_without_basicsr():
    assert {ARCHS[name] for name in ("DeResnet", "StridedHAN", "FSDiscriminator")} == \
        {DeResnet, StridedHAN, FSDiscriminator}
    net = build_network({"type": "Probabilistic", "net": {"type": "DeResnet", "num_feat": 8, "num_blocks": 1}})
    assert isinstance(net, Probabilistic) and isinstance(net.unwrap(), DeResnet)


def test_other_types_come_from_the_resolver_the_caller_hands_in():
    class Resolver:
        def __call__(self, name):
            return {"Identity": nn.Identity, "Tiny": sequential_net}.get(name)

        def names(self):
            return ["Identity", "Tiny"]

    assert isinstance(build_network({"type": "Identity"}, resolve=Resolver()), nn.Identity)
    # The nested net of a Probabilistic resolves through it too.
    wrapped = build_network({"type": "Probabilistic", "net": {"type": "Tiny"}}, resolve=Resolver())
    assert isinstance(wrapped.unwrap(), nn.Sequential) and len(wrapped.points) == 2
    with pytest.raises(UnknownNetworkError, match=r"unknown network type 'Identty'.*did you mean Identity\?"):
        build_network({"type": "Identty"}, resolve=Resolver())


def test_errors_name_the_type_the_key_and_the_closest_option():
    with pytest.raises(UnknownNetworkError, match="RRDBNet.*resolve=probdeg.integrations.basicsr.resolve_arch"):
        build_network({"type": "RRDBNet"})
    with pytest.raises(UnknownNetworkError, match="need a 'type' key"):
        build_network({"num_feat": 8})
    with pytest.raises(NetworkArgumentError, match=r"type 'DeResnet': 'num_fet' \(did you mean 'num_feat'\?\)"):
        build_network({"type": "DeResnet", "num_fet": 8})
    with pytest.raises(NetworkArgumentError, match="cannot build network type 'DeResnet'.*num_feat"):
        build_network({"type": "DeResnet", "num_feat": 0})
    with pytest.raises(NetworkArgumentError, match="must be a mapping"):
        build_network(["DeResnet"])


def test_the_options_are_not_modified():
    opt = {"type": "DeResnet", "num_feat": 8, "num_blocks": 1}
    build_network(opt)
    assert opt == {"type": "DeResnet", "num_feat": 8, "num_blocks": 1}
