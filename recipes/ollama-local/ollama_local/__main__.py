"""``python -m ollama_local``: run the chat web app (see ``server.py``)."""

from .server import main

main()
