"""Embed sentences with tritonclient over gRPC; then show the repository and model control APIs.

    python examples/client_grpc.py [URL]     # URL default 127.0.0.1:8001
"""

import sys

import numpy as np
import tritonclient.grpc as grpcclient

url = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8001"

with grpcclient.InferenceServerClient(url) as client:
    text = grpcclient.InferInput("TEXT", [2, 1], "BYTES")
    text.set_data_from_numpy(np.array([["A cat sits on the mat."], ["Where is the station?"]], dtype=object))
    for model in ("minilm", "minilm_int8"):  # two models served at once: fp32 and int8 encoders
        emb = client.infer(model, [text]).as_numpy("EMBEDDING")
        print(model, emb.shape, f"norm {np.linalg.norm(emb[0]):.4f}")

    # model control (the server runs with --model-control-mode=explicit)
    client.unload_model("minilm_int8")
    print("after unload:", {m.name: m.state for m in client.get_model_repository_index().models})
    client.load_model("minilm_int8")
    print("minilm_int8 ready again:", client.is_model_ready("minilm_int8"))

    stats = client.get_inference_statistics("minilm_encoder").model_stats[0]
    print(f"minilm_encoder: {stats.inference_count} inferences in {stats.execution_count} executions")
