#!/bin/bash
# GCP shutdown script: runs on preemption (ACPI G2 soft off) and must finish inside the ~30 s notice.
# The agent usually saw `instance/preempted` first and is already draining; stopping the unit sends SIGTERM to
# the agent, which forwards it to the server (drain: readiness 503, delay, finish in-flight, exit 0).
# `timeout 25` keeps the script inside the notice whatever happens.
timeout 25 systemctl stop spot-agent.service || true
