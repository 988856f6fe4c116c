"""Every write of the product (HackSoft style): `<entity>_<verb>` functions, keyword-only."""
