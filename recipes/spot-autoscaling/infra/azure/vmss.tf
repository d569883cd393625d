# Azure equivalent (hashicorp/azurerm ~> 4): a Flexible-orchestration scale set with Spot Priority Mix (one
# regular VM as the base, 25% regular above it, the rest Spot), eviction policy Delete, max price -1 (evicted
# for capacity only, never for price). Differences from AWS, on the README:
# - notice >= 30 s via Scheduled Events (`Preempt`), not 120 s
#   (https://learn.microsoft.com/en-us/azure/virtual-machines/linux/scheduled-events);
# - the agent acknowledges the event (POST StartRequests) once drained, so Azure can proceed early;
# - scale-in uses a `Terminate` scheduled event (termination notification, below) instead of a lifecycle hook.
# Budget inside 30 s: poll 1 + LB detection 2 x 2 + drain delay 4 + longest request 15 + margin 3 = 27 s.

variable "resource_group_name" { type = string }
variable "location" {
  type    = string
  default = "eastus"
}
variable "subnet_id" { type = string }
variable "image_id" {
  type        = string
  description = "managed image / gallery image with the model, the server and the agent baked in"
}
variable "ssh_public_key" { type = string }

resource "azurerm_orchestrated_virtual_machine_scale_set" "model" {
  name                        = "model-spot"
  resource_group_name         = var.resource_group_name
  location                    = var.location
  platform_fault_domain_count = 1
  sku_name                    = "Standard_D4s_v5"
  instances                   = 4
  zones                       = ["1", "2", "3"]
  source_image_id             = var.image_id

  priority        = "Spot"
  eviction_policy = "Delete"
  max_bid_price   = -1

  priority_mix {
    base_regular_count            = 1
    regular_percentage_above_base = 25
  }

  termination_notification {
    enabled = true
    timeout = "PT5M"
  }

  os_profile {
    linux_configuration {
      admin_username = "azureuser"
      admin_ssh_key {
        username   = "azureuser"
        public_key = var.ssh_public_key
      }
      disable_password_authentication = true
    }
    custom_data = base64encode("SPOT_PROVIDER=azure\nSPOT_POLL_INTERVAL_S=1\nSPOT_LB_CHECK_INTERVAL_S=2\nSPOT_DRAIN_DELAY_S=4\nSPOT_DRAIN_TIMEOUT_S=15\nSPOT_MARGIN_S=3\n")
  }

  os_disk {
    caching              = "ReadOnly"
    storage_account_type = "Standard_LRS"
  }

  network_interface {
    name    = "nic"
    primary = true
    ip_configuration {
      name      = "ipconfig"
      primary   = true
      subnet_id = var.subnet_id
    }
  }
}
