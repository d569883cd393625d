"""serve_config.yaml: valid for `serve deploy` (Ray's own schema), autoscaling on every model deployment, and
the 'default' profile really puts back Ray's defaults (read from Ray, not typed here)."""

import pytest
from pydantic import ValidationError
from ray.serve.config import AutoscalingConfig

from ray_serve_recipe.launcher import TIMING_FIELDS, ray_default_timing, render_config
from ray_serve_recipe.settings import Settings


def deps(cfg):
    return {d["name"]: d for d in cfg["applications"][0]["deployments"]}


def test_tuned_config_autoscales_both_models():
    cfg = render_config(Settings(port=8123))
    assert cfg["http_options"] == {**cfg["http_options"], "host": "127.0.0.1", "port": 8123}
    for name in ("Embedder", "Chat"):
        a = AutoscalingConfig(**deps(cfg)[name]["autoscaling_config"])
        assert a.min_replicas == 1 < a.max_replicas and a.upscale_delay_s < 30 and a.downscale_delay_s < 600


def test_default_profile_is_rays_defaults():
    assert ray_default_timing() == {"upscale_delay_s": 30.0, "downscale_delay_s": 600.0,
                                    "metrics_interval_s": 10.0, "look_back_period_s": 30.0}
    cfg = render_config(Settings(autoscaling="default"))
    for name in ("Embedder", "Chat"):
        a = deps(cfg)[name]["autoscaling_config"]
        assert {k: a[k] for k in TIMING_FIELDS} == ray_default_timing()


def test_render_rejects_a_broken_config(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("applications: [{name: a, import_path: x:y, deployments: [{name: D, num_replicas: -3}]}]")
    with pytest.raises(ValidationError):
        render_config(Settings(config=bad))
