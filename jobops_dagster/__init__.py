"""Spread AutoSys batch work over a VM pool, record completions in Delta Lake, report them."""
