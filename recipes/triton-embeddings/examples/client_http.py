"""Embed sentences with tritonclient over HTTP and compare two of them (cosine similarity).

    python examples/client_http.py [URL]     # URL default 127.0.0.1:8000 (host:port, no scheme)
"""

import sys

import numpy as np
import tritonclient.http as httpclient

url = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8000"
sentences = ["A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell sharply."]

with httpclient.InferenceServerClient(url) as client:
    text = httpclient.InferInput("TEXT", [len(sentences), 1], "BYTES")
    text.set_data_from_numpy(np.array(sentences, dtype=object).reshape(-1, 1))
    result = client.infer("minilm", [text], outputs=[httpclient.InferRequestedOutput("EMBEDDING")])
    emb = result.as_numpy("EMBEDDING")  # float32 [3, 384], unit length
    print("shape", emb.shape)
    print(f"cos(0,1) = {emb[0] @ emb[1]:.3f}   cos(0,2) = {emb[0] @ emb[2]:.3f}")
