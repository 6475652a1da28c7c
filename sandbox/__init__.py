"""sabong-sandbox: a sandbox of the Sabong wallet API v1."""

__version__ = "0.1.0"
