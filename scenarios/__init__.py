"""Named, documented scenario instances and the papers' studies; importing this package
registers them all."""

from scenarios import (  # noqa: F401
    approx_auction,
    bwk_toy,
    bwk_variants,
    course_allocation,
    facility_location,
    one_sided,
    public_goods,
    resource_allocation,
    studies,
    two_sided,
    voting,
)
