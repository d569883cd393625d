"""``python -m llamacpp_server.eog``: print, as one JSON object, the ``logit_bias`` that bans every
end-of-generation token of SmolLM2-135M-Instruct (``{"<token id>": -100.0, ...}``; :func:`models.eog_logit_bias`).

For callers outside this venv that need a generation to run exactly ``max_tokens`` tokens (llama-cpp-python has
no ``ignore_eos``): the gateway recipe's tests and the cross-backend benchmarks. Loads the vocabulary only.
"""

from __future__ import annotations

import json

from llama_cpp import Llama

from .models import eog_logit_bias, smollm2_path


def main() -> None:
    """Print the JSON object on stdout (raises ``FileNotFoundError`` if the GGUF is missing)."""
    print(json.dumps(eog_logit_bias(Llama(model_path=str(smollm2_path()), vocab_only=True, verbose=False))))


if __name__ == "__main__":
    main()
