"""Choosing a VM for each task and running the task there.

`hosts` parses the pool, `probes` checks reachability, `selection` walks the pool in smooth
weighted round-robin order with a failure cool-down, `cursor` keeps that walk's state in the
Dagster instance key-value store under a lock, `dispatch` runs the command over SSH or on
this machine, and `load` summarises how the work spread. None of these import Dagster.
"""
