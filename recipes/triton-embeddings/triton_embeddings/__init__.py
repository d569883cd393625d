"""triton-embeddings: all-MiniLM-L6-v2 as a Triton Inference Server ensemble (tokenizer -> ONNX encoder -> pooling).

Modules: ``settings`` (TRITON_EMB_* settings), ``launcher`` (prepare the repository and start tritonserver),
``export`` (ONNX export + int8 into the model repository), ``bench`` (make bench), ``provenance`` (results).
"""
