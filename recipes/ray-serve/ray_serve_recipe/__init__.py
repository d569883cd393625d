"""Ray Serve recipe: the cookbook's embedding model (ONNX Runtime) and chat model (llama.cpp) as autoscaled Ray
Serve deployments behind one OpenAI-compatible ingress, on a local Ray cluster (head + one worker node).

Modules: ``settings`` (RAY_RECIPE_* environment), ``export`` (MiniLM -> ONNX), ``deployments`` (the Serve
application), ``cluster`` (local head + worker), ``launcher`` (``python -m ray_serve_recipe``), ``bench``
(load ramp, replica counts, kill mid-load), ``k8s`` (manifest validation).
"""
