"""Clients of the running daemon: the HTTP client (standard library only, so shell triggers
start fast), ``macbot say`` through the daemon, and the menu-bar app's model."""
