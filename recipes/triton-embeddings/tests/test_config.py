"""The model repository, CPU and GPU configs, validated with Triton's own protobuf (model_config.proto)."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from triton_embeddings.launcher import apply_settings, prepare_repository, read_config
from triton_embeddings.settings import RECIPE_DIR, Settings

REPO = RECIPE_DIR / "model_repository"
MODELS = ["minilm", "minilm_int8", "minilm_tokenizer", "minilm_encoder", "minilm_encoder_int8", "minilm_pooling"]


def configs(variant: str) -> dict[str, mc.ModelConfig]:
    """``{model: ModelConfig}`` as Triton resolves them: ``configs/<variant>.pbtxt`` if present, else config.pbtxt."""
    out = {}
    for m in MODELS:
        alt = REPO / m / "configs" / f"{variant}.pbtxt"
        out[m] = read_config(alt if variant != "cpu" and alt.is_file() else REPO / m / "config.pbtxt")
    return out


def test_every_config_parses_and_names_its_folder():
    files = sorted(REPO.glob("*/config.pbtxt")) + sorted(REPO.glob("*/configs/*.pbtxt"))
    assert len(files) == 9
    for f in files:
        cfg = read_config(f)  # text_format.ParseError on any field model_config.proto does not define
        model_dir = f.parent if f.name == "config.pbtxt" else f.parent.parent
        assert cfg.name == model_dir.name, f


def test_the_validator_rejects_a_wrong_field():
    with pytest.raises(text_format.ParseError, match="max_batch_sizes"):
        text_format.Parse('name: "x" max_batch_sizes: 8', mc.ModelConfig())
    with pytest.raises(text_format.ParseError):
        text_format.Parse('name: "x" instance_group [{ kind: KIND_TPU }]', mc.ModelConfig())


@pytest.mark.parametrize("variant", ["cpu", "gpu"])
def test_ensemble_steps_wire_up(variant):
    """Every input_map/output_map names a real tensor of its step, with matching dtypes between steps."""
    cfg = configs(variant)
    for ens in ("minilm", "minilm_int8"):
        e = cfg[ens]
        assert e.platform == "ensemble" and e.max_batch_size == 32
        dtype = {t.name: t.data_type for t in e.input}
        for step in e.ensemble_scheduling.step:
            m = cfg[step.model_name]
            ins = {t.name: t.data_type for t in m.input}
            outs = {t.name: t.data_type for t in m.output}
            assert set(step.input_map) == set(ins), step.model_name
            for key, tensor in step.input_map.items():
                assert dtype[tensor] == ins[key], (step.model_name, key)
            for key, tensor in step.output_map.items():
                dtype[tensor] = outs[key]
        assert dtype["EMBEDDING"] == mc.TYPE_FP32 == e.output[0].data_type
        assert list(e.output[0].dims) == [384]


def test_cpu_config_runs_on_the_python_backend_with_dynamic_batching():
    cfg = configs("cpu")
    for m in ("minilm_tokenizer", "minilm_encoder", "minilm_encoder_int8", "minilm_pooling"):
        c = cfg[m]
        assert c.backend == "python" and c.max_batch_size == 32
        assert [g.kind for g in c.instance_group] == [mc.ModelInstanceGroup.KIND_CPU]
        delay = 2000 if m.startswith("minilm_encoder") else 0  # only the encoder waits to fill a batch
        assert c.dynamic_batching.max_queue_delay_microseconds == delay
        qp = c.dynamic_batching.default_queue_policy
        assert qp.max_queue_size == 256 and qp.timeout_action == mc.ModelQueuePolicy.REJECT
        assert qp.default_timeout_microseconds == 10_000_000
    assert all(i.allow_ragged_batch for i in cfg["minilm_encoder"].input)


def test_gpu_config_uses_onnxruntime_on_the_gpu_with_tensorrt():
    cfg = configs("gpu")
    enc = cfg["minilm_encoder"]
    assert enc.backend == "onnxruntime" and enc.default_model_filename == "model.onnx"
    assert [g.kind for g in enc.instance_group] == [mc.ModelInstanceGroup.KIND_GPU]
    (trt,) = enc.optimization.execution_accelerators.gpu_execution_accelerator
    assert trt.name == "tensorrt" and trt.parameters["precision_mode"] == "FP16"
    assert not any(i.allow_ragged_batch for i in enc.input)  # the onnxruntime backend batches equal shapes
    assert cfg["minilm_tokenizer"].parameters["pad_to_multiple_of"].string_value == "64"
    assert cfg["minilm_encoder_int8"].backend == "onnxruntime"
    assert [g.kind for g in cfg["minilm_encoder_int8"].instance_group] == [mc.ModelInstanceGroup.KIND_GPU]
    # same tensors as the CPU config: clients cannot tell the two apart
    cpu = configs("cpu")["minilm_encoder"]
    assert [(t.name, t.data_type, list(t.dims)) for t in enc.input] == \
        [(t.name, t.data_type, list(t.dims)) for t in cpu.input]
    assert [(t.name, list(t.dims)) for t in enc.output] == [(t.name, list(t.dims)) for t in cpu.output]


def test_int8_encoder_runs_the_same_code():
    a = (REPO / "minilm_encoder" / "1" / "model.py").read_bytes()
    assert a == (REPO / "minilm_encoder_int8" / "1" / "model.py").read_bytes()


def test_settings_are_applied_to_the_runtime_repository(tmp_path: Path):
    s = Settings(instance_count=2, max_queue_delay_us=500, max_queue_size=8, queue_timeout_us=1000,
                 max_tokens=64, max_batch_size=16, intra_op_threads=1)
    repo = prepare_repository(REPO, tmp_path / "repo", s)
    enc = read_config(repo / "minilm_encoder" / "config.pbtxt")
    assert enc.instance_group[0].count == 2 and enc.max_batch_size == 16
    assert enc.dynamic_batching.max_queue_delay_microseconds == 500
    assert enc.dynamic_batching.default_queue_policy.max_queue_size == 8
    assert enc.parameters["intra_op_threads"].string_value == "1"
    assert read_config(repo / "minilm_tokenizer" / "config.pbtxt").parameters["max_tokens"].string_value == "64"
    assert read_config(repo / "minilm" / "config.pbtxt").max_batch_size == 16
    assert (repo / "minilm_encoder" / "1").resolve() == (REPO / "minilm_encoder" / "1").resolve()
    off = mc.ModelConfig()
    off.CopyFrom(enc)
    apply_settings(off, Settings(dynamic_batching=False))
    assert not off.HasField("dynamic_batching")
