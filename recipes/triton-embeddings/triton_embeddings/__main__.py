"""``python -m triton_embeddings``: start Triton on the model repository with the ``TRITON_EMB_*`` settings."""

import sys

from .launcher import serve

if __name__ == "__main__":
    sys.exit(serve())
