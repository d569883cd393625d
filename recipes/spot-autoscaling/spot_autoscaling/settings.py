"""Settings of the interruption agent, read from ``SPOT_*`` environment variables (pydantic-settings).

Plain data: this module imports no other module of the recipe. Every field is listed, with its default, in the
README's "Configuration" table.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AgentSettings(BaseSettings):
    """All agent settings. Environment variables are ``SPOT_<FIELD>`` (case-insensitive). Times in seconds."""

    model_config = SettingsConfigDict(env_prefix="SPOT_", extra="ignore")

    provider: Literal["aws", "gcp", "azure"] = Field("aws", description="which metadata service to poll")
    aws_imds_url: str = Field("http://169.254.169.254", description="AWS instance metadata service (IMDSv2)")
    gcp_metadata_url: str = Field("http://metadata.google.internal", description="GCP metadata server")
    azure_metadata_url: str = Field("http://169.254.169.254", description="Azure Instance Metadata Service")
    imds_token_ttl_s: int = Field(21600, ge=1, le=21600, description="IMDSv2 session token lifetime (AWS max 6 h)")
    metadata_timeout_s: float = Field(1.0, gt=0, description="per-request timeout to the metadata service")

    poll_interval_s: float = Field(5.0, gt=0, description="how often to ask for a notice (AWS recommends 5 s)")
    notice_s: Optional[float] = Field(None, gt=0, description="notice the budget must fit; default: the "
                                      "provider's (AWS 120, GCP 30, Azure 30)")
    lb_check_interval_s: float = Field(5.0, gt=0, description="load balancer health-check interval")
    lb_unhealthy_threshold: int = Field(2, ge=1, description="failed checks before the LB stops routing")
    drain_delay_s: float = Field(15.0, ge=0, description="server's wait after readiness → 503 (its "
                                 "<PREFIX>_DRAIN_DELAY_S; the agent sets it in the child's environment)")
    drain_timeout_s: float = Field(30.0, gt=0, description="longest in-flight request the drain waits for (its "
                                   "<PREFIX>_DRAIN_TIMEOUT_S)")
    margin_s: float = Field(5.0, ge=0, description="slack kept free in the budget (process exit, hook call)")
    server_env_prefix: Optional[str] = Field(None, pattern=r"^[A-Z][A-Z0-9_]*_$", description="e.g. "
                                             "'ONNX_EMB_': export drain_delay_s/drain_timeout_s to the child as "
                                             "<PREFIX>DRAIN_DELAY_S / <PREFIX>DRAIN_TIMEOUT_S")
    enforce_budget: bool = Field(True, description="refuse to start when the budget does not fit the notice")

    rebalance_action: Literal["log", "drain"] = Field("log", description="AWS rebalance recommendation: only "
                                                      "log it, or drain at once")
    lifecycle_hook_name: Optional[str] = Field(None, description="ASG termination lifecycle hook to complete "
                                               "after the drain (AWS)")
    asg_name: Optional[str] = Field(None, description="Auto Scaling group of this instance (AWS)")
    aws_region: Optional[str] = Field(None, description="region for the Auto Scaling API; default: from IMDS")
    aws_endpoint_url: Optional[str] = Field(None, description="Auto Scaling API endpoint override (tests: moto)")
    azure_ack: bool = Field(True, description="acknowledge the Azure event (StartRequests) once drained")
    log_level: str = "info"
