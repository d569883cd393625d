#!/usr/bin/env bash
# Wrap a cookbook model server with the interruption agent (default: the onnx-embeddings recipe's server; pass
# another server command as arguments). On EC2 the agent polls the real IMDSv2 at 169.254.169.254; elsewhere set
# SPOT_AWS_IMDS_URL (the tests point it at an emulator).
set -euo pipefail
export SPOT_PROVIDER="${SPOT_PROVIDER:-aws}" SPOT_SERVER_ENV_PREFIX="${SPOT_SERVER_ENV_PREFIX:-ONNX_EMB_}"
export SPOT_DRAIN_DELAY_S="${SPOT_DRAIN_DELAY_S:-15}" SPOT_DRAIN_TIMEOUT_S="${SPOT_DRAIN_TIMEOUT_S:-30}"
export SPOT_LB_CHECK_INTERVAL_S="${SPOT_LB_CHECK_INTERVAL_S:-5}" SPOT_LB_UNHEALTHY_THRESHOLD="${SPOT_LB_UNHEALTHY_THRESHOLD:-2}"
python -m spot_autoscaling.agent --check          # prints the timing budget; exits 2 if it does not fit
[ $# -gt 0 ] || set -- python -m onnx_embeddings
exec python -m spot_autoscaling.agent -- "$@"
