"""Named, documented scenario instances; importing this package registers them all."""

from scenarios import (  # noqa: F401
    approx_auction,
    bwk_toy,
    one_sided,
    public_goods,
    resource_allocation,
    two_sided,
    voting,
)
