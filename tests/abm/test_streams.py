"""Named random streams: derived from seed and name only."""

import numpy as np
import pytest

from abm.streams import Streams


def test_same_name_same_stream_and_names_are_independent():
    a, b = Streams(7), Streams(7)
    assert a.generator("values").random() == b.generator("values").random()
    draws = {name: Streams(7).generator(name).random(4).tolist()
             for name in ("scenario", "values", "mechanism", "model", "metrics", "population/x")}
    assert len({tuple(v) for v in draws.values()}) == len(draws)
    assert Streams(8).generator("values").random() != a.generator("values").random()


def test_group_stream_is_the_population_name():
    s = Streams(3)
    assert s.group("deviant").entropy == s.seed("population/deviant").entropy
    np.testing.assert_array_equal(
        np.random.default_rng(s.group("x")).random(3), np.random.default_rng(Streams(3).group("x")).random(3)
    )


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match="seed"):
        Streams(bad)
