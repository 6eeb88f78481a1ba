# The stable Auto Scaling group as the team's IaC/modules/autoscaling declares it, shown here for
# the one thing gray deployments require of it: ignore what the pipeline changes.
#
# - launch_template[0].version: promotion moves stable onto the release's version through an
#   instance refresh. Without ignore_changes the next `terraform apply` puts the old version back,
#   and the next instance that replaces a failed one runs the previous release.
# - desired_capacity: the pipeline keeps stable at its starting capacity during a rollout
#   (and scaling policies move it anyway).
# - suspended_processes: the pipeline suspends scale-in and AZRebalance for the rollout's duration
#   and resumes them at the end.
#
# The pipeline also raises min_size to the starting capacity during a rollout and restores it at
# the end; an apply in the middle of a rollout lowers it again (harmless while scale-in is
# suspended, but do not apply this group during a rollout: `gray-deploy status` tells).

resource "aws_autoscaling_group" "stable" {
  name                = "${var.service}-stable"
  min_size            = var.stable_capacity.min
  desired_capacity    = var.stable_capacity.desired
  max_size            = var.stable_capacity.max
  vpc_zone_identifier = var.subnet_ids
  target_group_arns   = [var.stable_target_group_arn]

  health_check_type         = "ELB"
  health_check_grace_period = 120

  launch_template {
    id = var.launch_template_id
    # A number, never $Latest/$Default: gray-deploy refuses groups that float.
    version = var.launch_template_version
  }

  tag {
    key                 = "gray-deploy:role"
    value               = "stable"
    propagate_at_launch = true
  }

  lifecycle {
    ignore_changes = [
      desired_capacity,
      launch_template[0].version,
      suspended_processes,
    ]
  }
}
