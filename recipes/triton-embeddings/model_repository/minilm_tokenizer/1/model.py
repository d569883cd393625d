"""Triton Python-backend model ``minilm_tokenizer``: sentences → BERT token ids (step 1 of the ensembles).

Input  ``TEXT``            BYTES  [batch, 1]   UTF-8 sentences
Output ``input_ids``       INT64  [batch, T]   T = longest sentence of the request, padded with 0 (rounded up
                                               to the ``pad_to_multiple_of`` parameter: 1 on CPU, 64 on GPU)
       ``attention_mask``  INT64  [batch, T]   1 for real tokens, 0 for padding
       ``token_type_ids``  INT64  [batch, T]   all 0 (single-segment input)

Uses the model's own ``tokenizer.json`` (Hugging Face ``tokenizers``), copied next to this file by
``python -m triton_embeddings.export``. Sentences longer than the ``max_tokens`` parameter (the model's
``max_seq_length``, 256 for all-MiniLM-L6-v2) are rejected with INVALID_ARG (HTTP 400), never truncated
silently; so are empty and non-UTF-8 sentences. Error messages name the sentence by index and carry no
file path or traceback.
"""

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils
from tokenizers import Tokenizer


def _bad(message):
    return pb_utils.InferenceResponse(output_tensors=[],
                                      error=pb_utils.TritonError(message, pb_utils.TritonError.INVALID_ARG))


class TritonPythonModel:
    """Tokenises all sentences of a dynamic batch in one call; each request gets its own padded output."""

    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.max_tokens = int(params.get("max_tokens", "256"))
        self.multiple = max(1, int(params.get("pad_to_multiple_of", "1")))
        here = Path(args["model_repository"]) / args["model_version"]
        self.tok = Tokenizer.from_file(str(here / "tokenizer.json"))
        self.tok.no_truncation()
        self.tok.no_padding()

    def _sentences(self, request):
        """The request's sentences as ``str``, or an error response."""
        texts = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy().reshape(-1)
        sentences = []
        for i, raw in enumerate(texts):
            if not isinstance(raw, (bytes, np.bytes_)):
                return _bad(f"TEXT[{i}] is not a string")
            try:
                s = bytes(raw).decode("utf-8")
            except UnicodeDecodeError:
                return _bad(f"TEXT[{i}] is not valid UTF-8")
            if not s.strip():
                return _bad(f"TEXT[{i}] is empty")
            sentences.append(s)
        return sentences

    def _response(self, encs):
        for i, e in enumerate(encs):
            if len(e.ids) > self.max_tokens:
                return _bad(f"TEXT[{i}] has {len(e.ids)} tokens; the limit is {self.max_tokens}")
        longest = max(len(e.ids) for e in encs)
        longest = min(-(-longest // self.multiple) * self.multiple, max(self.max_tokens, longest))
        ids = np.zeros((len(encs), longest), np.int64)
        mask = np.zeros((len(encs), longest), np.int64)
        for i, e in enumerate(encs):
            ids[i, :len(e.ids)] = e.ids
            mask[i, :len(e.ids)] = 1
        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor("input_ids", ids), pb_utils.Tensor("attention_mask", mask),
            pb_utils.Tensor("token_type_ids", np.zeros_like(ids))])

    def execute(self, requests):
        """One ``encode_batch`` over every sentence of every request in the dynamic batch, then split."""
        try:
            parsed = [self._sentences(r) for r in requests]
            flat = [s for p in parsed if isinstance(p, list) for s in p]
            encs = iter(self.tok.encode_batch(flat) if len(flat) > 1 else [self.tok.encode(s) for s in flat])
            return [self._response([next(encs) for _ in p]) if isinstance(p, list) else p for p in parsed]
        except Exception:  # never leak a traceback or path into the HTTP error body
            err = pb_utils.TritonError("tokenizer failed on this batch", pb_utils.TritonError.INTERNAL)
            return [pb_utils.InferenceResponse(output_tensors=[], error=err) for _ in requests]
