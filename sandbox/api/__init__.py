"""The API endpoints, one module per endpoint family."""
