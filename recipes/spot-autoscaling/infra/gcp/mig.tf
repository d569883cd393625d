# GCP equivalent (hashicorp/google ~> 6): Spot VMs in a regional managed instance group, plus a small standard
# (on-demand) group as the base, behind one backend service. Differences from AWS, on the README:
# - notice ~30 s, not 120 s (https://cloud.google.com/compute/docs/instances/spot#preemption-process);
# - one MIG cannot mix Spot and standard VMs: the on-demand base is a second MIG in the same backend service;
# - no lifecycle hook: the shutdown script (ACPI soft off) runs within the notice and must finish in time;
# - the agent long-polls metadata `instance/preempted` with `Metadata-Flavor: Google` and `wait_for_change`.
# Budget inside 30 s: poll ~1 + LB detection 2 x 2 + drain delay 4 + longest request 15 + margin 3 = 27 s.

variable "project" { type = string }
variable "region" {
  type    = string
  default = "us-central1"
}
variable "image" {
  type        = string
  description = "image with the model, the server and the agent baked in"
}

locals {
  health_check_interval = 2
  unhealthy_threshold   = 2
  drain_delay_s         = 4
  longest_request_s     = 15
}

resource "google_compute_health_check" "ready" {
  name                = "model-readyz"
  check_interval_sec  = local.health_check_interval
  timeout_sec         = 1
  healthy_threshold   = 2
  unhealthy_threshold = local.unhealthy_threshold
  http_health_check {
    port         = 8000
    request_path = "/readyz"
  }
}

resource "google_compute_instance_template" "spot" {
  name_prefix  = "model-spot-"
  machine_type = "c3-standard-4"
  disk {
    source_image = var.image
    boot         = true
  }
  network_interface {
    network = "default"
  }
  scheduling {
    provisioning_model          = "SPOT"
    preemptible                 = true
    automatic_restart           = false
    on_host_maintenance         = "TERMINATE"
    instance_termination_action = "DELETE"
  }
  metadata = {
    shutdown-script = file("${path.module}/shutdown.sh")
    spot-agent-env  = "SPOT_PROVIDER=gcp\nSPOT_POLL_INTERVAL_S=1\nSPOT_LB_CHECK_INTERVAL_S=${local.health_check_interval}\nSPOT_DRAIN_DELAY_S=${local.drain_delay_s}\nSPOT_DRAIN_TIMEOUT_S=${local.longest_request_s}\nSPOT_MARGIN_S=3"
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_instance_template" "standard" {
  name_prefix  = "model-standard-"
  machine_type = "c3-standard-4"
  disk {
    source_image = var.image
    boot         = true
  }
  network_interface {
    network = "default"
  }
  scheduling {
    provisioning_model = "STANDARD"
    automatic_restart  = true
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_region_instance_group_manager" "spot" {
  name               = "model-spot"
  region             = var.region
  base_instance_name = "model-spot"
  version {
    instance_template = google_compute_instance_template.spot.self_link
  }
  distribution_policy_target_shape = "BALANCED"
  auto_healing_policies {
    health_check      = google_compute_health_check.ready.id
    initial_delay_sec = 120
  }
  named_port {
    name = "http"
    port = 8000
  }
}

resource "google_compute_region_instance_group_manager" "standard" {
  name               = "model-standard"
  region             = var.region
  base_instance_name = "model-standard"
  target_size        = 1
  version {
    instance_template = google_compute_instance_template.standard.self_link
  }
  named_port {
    name = "http"
    port = 8000
  }
}

resource "google_compute_region_autoscaler" "spot" {
  name   = "model-spot"
  region = var.region
  target = google_compute_region_instance_group_manager.spot.id
  autoscaling_policy {
    min_replicas    = 1
    max_replicas    = 12
    cooldown_period = 120
    cpu_utilization {
      target = 0.6
    }
  }
}

resource "google_compute_backend_service" "model" {
  name                  = "model"
  health_checks         = [google_compute_health_check.ready.id]
  load_balancing_scheme = "EXTERNAL_MANAGED"
  connection_draining_timeout_sec = local.longest_request_s
  backend {
    group = google_compute_region_instance_group_manager.spot.instance_group
  }
  backend {
    group = google_compute_region_instance_group_manager.standard.instance_group
  }
}
