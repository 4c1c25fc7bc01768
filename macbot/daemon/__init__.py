"""The daemon: the Flask app (one blueprint per route group), its typed state, security,
metrics, and the waitress server that runs it with graceful drain and config reloads."""
