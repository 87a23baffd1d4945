"""Virtual radio (Bumble's in-process link) and virtual insoles."""
