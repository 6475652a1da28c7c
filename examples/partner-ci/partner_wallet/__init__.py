"""The partner's wallet client: its own code, written from the public API docs."""
