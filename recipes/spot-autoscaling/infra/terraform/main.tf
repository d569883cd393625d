# spot-autoscaling recipe: the AWS stack of infra/aws/cloudformation.yaml in Terraform (hashicorp/aws ~> 5).
# Two Auto Scaling groups (cpu, gpu) from one map; the tests parse this file with python-hcl2 and check the
# key fields. Timing budget (s): agent poll 5 + ALB detection 5 x 2 + drain delay 15 + longest request 30 +
# margin 5 = 65 <= the 120 s Spot notice.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

variable "name" {
  type    = string
  default = "spot-serving"
}
variable "vpc_id" { type = string }
variable "subnet_ids" {
  type        = list(string)
  description = "private subnets in at least two Availability Zones"
}
variable "public_subnet_ids" { type = list(string) }
variable "cpu_image_id" {
  type        = string
  description = "AMI from infra/packer/model-image.pkr.hcl (CPU build)"
}
variable "gpu_image_id" { type = string }
variable "server_port" {
  type    = number
  default = 8000
}

locals {
  groups = {
    cpu = {
      image_id       = var.cpu_image_id
      instance_types = ["c7i.xlarge", "c6i.xlarge", "m7i.xlarge", "c7a.xlarge"]
      min_size       = 2
      max_size       = 12
      metric         = "ASGAverageCPUUtilization"
      target_value   = 60
    }
    gpu = {
      image_id       = var.gpu_image_id
      instance_types = ["g6.xlarge", "g5.xlarge", "g6e.xlarge", "g4dn.xlarge"]
      min_size       = 1
      max_size       = 8
      metric         = "ALBRequestCountPerTarget"
      target_value   = 100
    }
  }
  on_demand_base_capacity                  = 1
  on_demand_percentage_above_base_capacity = 25
  health_check_interval                    = 5
  unhealthy_threshold                      = 2
  deregistration_delay                     = 30
  drain_delay_s                            = 15
}

resource "aws_security_group" "alb" {
  name_prefix = "${var.name}-alb-"
  vpc_id      = var.vpc_id
  ingress {
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "instance" {
  name_prefix = "${var.name}-instance-"
  vpc_id      = var.vpc_id
  ingress {
    from_port       = var.server_port
    to_port         = var.server_port
    protocol        = "tcp"
    security_groups = [aws_security_group.alb.id]
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_iam_role" "instance" {
  name_prefix = "${var.name}-"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role_policy" "complete_lifecycle" {
  role = aws_iam_role.instance.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "autoscaling:CompleteLifecycleAction", Resource = "*" }]
  })
}

resource "aws_iam_instance_profile" "instance" {
  name_prefix = "${var.name}-"
  role        = aws_iam_role.instance.name
}

resource "aws_launch_template" "group" {
  for_each               = local.groups
  name_prefix            = "${var.name}-${each.key}-"
  image_id               = each.value.image_id
  vpc_security_group_ids = [aws_security_group.instance.id]
  iam_instance_profile {
    arn = aws_iam_instance_profile.instance.arn
  }
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required" # IMDSv2 only
    http_put_response_hop_limit = 1
  }
  user_data = base64encode(<<-EOT
    #!/bin/bash
    cat > /etc/spot-agent.env <<ENV
    SPOT_PROVIDER=aws
    SPOT_ASG_NAME=${var.name}-${each.key}
    SPOT_LIFECYCLE_HOOK_NAME=drain-before-terminate
    SPOT_LB_CHECK_INTERVAL_S=${local.health_check_interval}
    SPOT_LB_UNHEALTHY_THRESHOLD=${local.unhealthy_threshold}
    SPOT_DRAIN_DELAY_S=${local.drain_delay_s}
    SPOT_DRAIN_TIMEOUT_S=${local.deregistration_delay}
    ENV
    systemctl enable --now spot-agent.service
  EOT
  )
}

resource "aws_lb" "main" {
  name_prefix        = "spot-"
  load_balancer_type = "application"
  subnets            = var.public_subnet_ids
  security_groups    = [aws_security_group.alb.id]
}

resource "aws_lb_target_group" "group" {
  for_each             = local.groups
  name_prefix          = "${each.key}-"
  vpc_id               = var.vpc_id
  port                 = var.server_port
  protocol             = "HTTP"
  deregistration_delay = local.deregistration_delay
  load_balancing_algorithm_type = "least_outstanding_requests"
  health_check {
    path                = "/readyz"
    interval            = local.health_check_interval
    timeout             = 2
    healthy_threshold   = 2
    unhealthy_threshold = local.unhealthy_threshold
    matcher             = "200"
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.main.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.group["cpu"].arn
  }
}

resource "aws_lb_listener_rule" "gpu" {
  listener_arn = aws_lb_listener.http.arn
  priority     = 10
  condition {
    path_pattern {
      values = ["/v1/chat/*", "/v1/completions"]
    }
  }
  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.group["gpu"].arn
  }
}

resource "aws_autoscaling_group" "group" {
  for_each                  = local.groups
  name                      = "${var.name}-${each.key}"
  min_size                  = each.value.min_size
  max_size                  = each.value.max_size
  vpc_zone_identifier       = var.subnet_ids
  capacity_rebalance        = true
  health_check_type         = "ELB"
  health_check_grace_period = 300
  target_group_arns         = [aws_lb_target_group.group[each.key].arn]

  mixed_instances_policy {
    instances_distribution {
      on_demand_base_capacity                  = local.on_demand_base_capacity
      on_demand_percentage_above_base_capacity = local.on_demand_percentage_above_base_capacity
      on_demand_allocation_strategy            = "prioritized"
      spot_allocation_strategy                 = "price-capacity-optimized"
    }
    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.group[each.key].id
        version            = "$Latest"
      }
      dynamic "override" {
        for_each = each.value.instance_types
        content {
          instance_type = override.value
        }
      }
    }
  }

  initial_lifecycle_hook {
    name                 = "drain-before-terminate"
    lifecycle_transition = "autoscaling:EC2_INSTANCE_TERMINATING"
    heartbeat_timeout    = 90
    default_result       = "CONTINUE"
  }
}

resource "aws_autoscaling_policy" "target_tracking" {
  for_each               = local.groups
  name                   = "${var.name}-${each.key}-target"
  autoscaling_group_name = aws_autoscaling_group.group[each.key].name
  policy_type            = "TargetTrackingScaling"
  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = each.value.metric
      resource_label = each.value.metric == "ALBRequestCountPerTarget" ? "${aws_lb.main.arn_suffix}/${aws_lb_target_group.group[each.key].arn_suffix}" : null
    }
    target_value = each.value.target_value
  }
}

resource "aws_sqs_queue" "interruptions" {
  name_prefix               = "${var.name}-interruptions-"
  message_retention_seconds = 300
  sqs_managed_sse_enabled   = true
}

resource "aws_cloudwatch_event_rule" "interruptions" {
  name_prefix = "${var.name}-spot-"
  event_pattern = jsonencode({
    source        = ["aws.ec2"]
    "detail-type" = ["EC2 Spot Instance Interruption Warning", "EC2 Instance Rebalance Recommendation"]
  })
}

resource "aws_cloudwatch_event_target" "queue" {
  rule = aws_cloudwatch_event_rule.interruptions.name
  arn  = aws_sqs_queue.interruptions.arn
}

resource "aws_sqs_queue_policy" "events" {
  queue_url = aws_sqs_queue.interruptions.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.interruptions.arn
    }]
  })
}

output "endpoint" {
  value = "http://${aws_lb.main.dns_name}"
}
