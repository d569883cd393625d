"""Triton Python-backend model ``minilm_pooling``: mean pooling over real tokens + L2 norm (step 3).

Inputs  ``token_embeddings``  FP32  [batch, T, 384]
        ``attention_mask``    INT64 [batch, T]
Output  ``EMBEDDING``         FP32  [batch, 384]   unit length (L2 norm 1)

This is what sentence-transformers does for all-MiniLM-L6-v2 (``1_Pooling/config.json``: mean tokens;
``modules.json``: Normalize). Each request is pooled on its own (T differs between requests in a batch).
"""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    """Stateless numpy pooling."""

    def initialize(self, args):
        pass

    def execute(self, requests):
        out = []
        for r in requests:
            tokens = pb_utils.get_input_tensor_by_name(r, "token_embeddings").as_numpy()
            mask = pb_utils.get_input_tensor_by_name(r, "attention_mask").as_numpy()
            if tokens.shape[:2] != mask.shape:
                out.append(pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(
                    "token_embeddings and attention_mask disagree in shape", pb_utils.TritonError.INVALID_ARG)))
                continue
            m = mask[..., None].astype(np.float32)
            pooled = (tokens * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("EMBEDDING",
                                                                                  pooled.astype(np.float32))]))
        return out
