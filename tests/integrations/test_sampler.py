"""ResumableSampler: the permutation does not depend on the world size, a skip drops exactly the first indices."""

import pytest

pytest.importorskip("probdeg.integrations.basicsr")
from probdeg.integrations.basicsr.sampler import ResumableSampler  # noqa: E402


class Items:
    def __init__(self, n: int, keyed: bool = False) -> None:
        self.n, self.accepts_epoch_key = n, keyed

    def __len__(self) -> int:
        return self.n


def test_two_ranks_interleave_to_the_one_process_order():
    one = list(ResumableSampler(Items(16), 1, 0, seed=3))
    ranks = [list(ResumableSampler(Items(16), 2, r, seed=3)) for r in range(2)]
    assert [i for pair in zip(*ranks) for i in pair] == one and sorted(one) == list(range(16))


def test_epochs_and_seeds_change_the_order_and_a_skip_drops_the_first_indices():
    sampler = ResumableSampler(Items(16), 1, 0, seed=0)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first and list(ResumableSampler(Items(16), 1, 0, seed=1)) != first
    sampler.set_epoch(1, skip=6)
    assert list(sampler) == second[6:] and len(sampler) == 10
    with pytest.raises(ValueError, match="skip"):
        sampler.set_epoch(1, skip=17)


def test_keyed_datasets_get_epoch_index_pairs():
    sampler = ResumableSampler(Items(8, keyed=True), 1, 0, ratio=2)
    sampler.set_epoch(4)
    keys = list(sampler)
    assert len(keys) == 16 and {epoch for epoch, _ in keys} == {4} and sorted(i for _, i in keys) == sorted(
        list(range(8)) * 2)
