"""Triton Python-backend model ``minilm_encoder`` / ``minilm_encoder_int8``: the ONNX encoder on ONNX Runtime.

Why Python and not ``backend: "onnxruntime"``: the Triton binary that installs from PyPI (nvidia-pytriton's)
ships the Python backend only; Triton's onnxruntime backend lives in NVIDIA's container. This file runs the
same ``model.onnx`` with ONNX Runtime's CPU execution provider. In the container, ``configs/gpu.pbtxt`` serves
the same file with the onnxruntime backend and this file is not used.

Inputs  ``input_ids``, ``attention_mask``, ``token_type_ids``  INT64 [batch, T]   (T may differ per request)
Output  ``token_embeddings``                                   FP32  [batch, T, 384]

Requests in one dynamic batch have different T (the inputs set ``allow_ragged_batch``), so ``execute`` pads
them to the longest, runs ONE ``session.run`` for the whole batch, and slices each request's rows back out.
Padding positions have attention 0, so a sentence's embedding does not depend on its batch companions
(fp32, up to float rounding). Parameters: ``intra_op_threads`` (0 = ONNX Runtime's default).
"""

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

NAMES = ("input_ids", "attention_mask", "token_type_ids")


class TritonPythonModel:
    """One ONNX Runtime session per model instance."""

    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(params.get("intra_op_threads", "0"))
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path = Path(args["model_repository"]) / args["model_version"] / "model.onnx"
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def execute(self, requests):
        arrays = [[pb_utils.get_input_tensor_by_name(r, n).as_numpy() for n in NAMES] for r in requests]
        rows = [a[0].shape[0] for a in arrays]
        if any(a[0].shape != a[k].shape for a in arrays for k in (1, 2)):
            bad = pb_utils.TritonError("input_ids, attention_mask and token_type_ids must have the same shape",
                                       pb_utils.TritonError.INVALID_ARG)
            return [pb_utils.InferenceResponse(output_tensors=[], error=bad) for _ in requests]
        longest = max(a[0].shape[1] for a in arrays)
        feed = {}
        for k, name in enumerate(NAMES):
            batch = np.zeros((sum(rows), longest), np.int64)
            i = 0
            for a, n in zip(arrays, rows):
                batch[i:i + n, :a[k].shape[1]] = a[k]
                i += n
            feed[name] = batch
        try:
            hidden = self.session.run(["token_embeddings"], feed)[0]
        except Exception:  # e.g. a token id outside the vocabulary; never leak ORT's message (it names files)
            bad = pb_utils.TritonError("the encoder rejected these token ids", pb_utils.TritonError.INVALID_ARG)
            return [pb_utils.InferenceResponse(output_tensors=[], error=bad) for _ in requests]
        out, i = [], 0
        for a, n in zip(arrays, rows):
            part = np.ascontiguousarray(hidden[i:i + n, :a[0].shape[1]])
            out.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("token_embeddings", part)]))
            i += n
        return out
