# Bake the model, the server and the interruption agent into an AMI, so a replacement Spot instance serves in
# the time it takes to boot (no model download at start). The model file is checked against its sha256 before the
# image is saved; a mismatch fails the build. Parsed by python-hcl2 in tests/test_infra.py (Packer >= 1.9;
# Debian's packer 1.6.6 is too old for `packer init` with required_plugins).
packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.3.0"
    }
  }
}

variable "region" {
  type    = string
  default = "us-east-1"
}
variable "instance_type" {
  type    = string
  default = "c7i.xlarge"
}
variable "model_url" {
  type        = string
  description = "where the build instance fetches the model file (e.g. an S3 presigned URL or your registry)"
}
variable "model_sha256" {
  type        = string
  description = "sha256 of the model file; the build fails on a mismatch"
}
variable "recipe_wheelhouse" {
  type        = string
  default     = "wheelhouse"
  description = "local folder with the server's and the agent's wheels (pip download -r requirements.txt)"
}

source "amazon-ebs" "model" {
  region        = var.region
  instance_type = var.instance_type
  ssh_username  = "admin"
  ami_name      = "spot-model-server-{{timestamp}}"
  source_ami_filter {
    filters = {
      name                = "debian-12-amd64-*"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["136693071363"] # Debian
    most_recent = true
  }
  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
  }
  tags = {
    model_sha256 = var.model_sha256
  }
}

build {
  sources = ["source.amazon-ebs.model"]

  provisioner "file" {
    source      = var.recipe_wheelhouse
    destination = "/tmp/wheelhouse"
  }

  provisioner "file" {
    source      = "spot-agent.service"
    destination = "/tmp/spot-agent.service"
  }

  provisioner "shell" {
    environment_vars = ["MODEL_URL=${var.model_url}", "MODEL_SHA256=${var.model_sha256}"]
    inline = [
      "set -euo pipefail",
      "sudo apt-get update && sudo apt-get install -y python3-venv curl",
      "sudo python3 -m venv /opt/model/.venv",
      "sudo /opt/model/.venv/bin/pip install --no-index --find-links /tmp/wheelhouse -r /tmp/wheelhouse/requirements.txt",
      "sudo mkdir -p /opt/model/models",
      "sudo curl -fsSL -o /opt/model/models/model.onnx \"$MODEL_URL\"",
      "echo \"$MODEL_SHA256  /opt/model/models/model.onnx\" | sha256sum -c -",
      "sudo install -m 0644 /tmp/spot-agent.service /etc/systemd/system/spot-agent.service",
      "sudo systemctl daemon-reload",
    ]
  }
}
