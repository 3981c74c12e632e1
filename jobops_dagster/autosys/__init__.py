"""Delivering job statuses to AutoSys: the client backends, the sync engine, and a local
emulator of AutoSys Web Services for development and tests."""
