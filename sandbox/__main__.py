"""``python -m sandbox`` is the ``sabong-sandbox`` command."""

from .cli import main

if __name__ == "__main__":
    main()
