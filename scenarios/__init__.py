"""Named, documented scenario instances; importing this package registers them all."""

from scenarios import public_goods  # noqa: F401
