"""Auto Scaling: per-instance launch template versions, target deregistration, a launch helper.

moto 5.2.4 gaps fixed here:
- ASG launches pass the launch template to EC2 without a version, so instances get the template's
  default version's tags, and DescribeAutoScalingGroups / DescribeAutoScalingInstances report the
  template's default version for every instance. Real AWS reports the version each instance was
  launched from; a canary tool reads exactly that to tell old instances from new ones.
- Scale-in, DetachInstances and TerminateInstanceInAutoScalingGroup terminate or detach instances
  but leave them registered (and "healthy") in the group's target groups; real Auto Scaling
  deregisters them.
"""

from __future__ import annotations

from typing import Any

from moto.autoscaling.models import (
    ASG_NAME_TAG,
    AutoScalingBackend,
    FakeAutoScalingGroup,
    InstanceState,
)
from moto.moto_api._internal import mock_random as random

from ._patching import replace, require


def resolve_version(template: Any, version: str | int | None) -> Any:
    """The LaunchTemplateVersion a group with this version string launches right now."""
    return template.get_version(version if version not in (None, "") else "$Default")


def launch(group: FakeAutoScalingGroup, count: int, template: Any, version_number: int | None) -> list[InstanceState]:
    """Launches `count` instances into `group` from one launch template version (or, with template
    None, from the group's launch configuration) and returns their InstanceStates.

    Instances are spread over the group's subnets (moto put them all in the first one) so a
    multi-AZ group looks like one.
    """
    if count <= 0:
        return []
    ec2 = group.autoscaling_backend.ec2_backend
    tags = group.get_propagated_tags()
    tags[ASG_NAME_TAG] = group.name
    if template is None:
        ltv = None
        image_id = group.launch_config.image_id  # type: ignore[union-attr]
        user_data = group.launch_config.user_data  # type: ignore[union-attr]
        security_groups = group.launch_config.security_groups  # type: ignore[union-attr]
        instance_type = group.launch_config.instance_type  # type: ignore[union-attr]
        lt_arg = None
    else:
        ltv = template.get_version(version_number)
        tags.update(ltv.instance_tags)
        image_id, user_data = ltv.image_id, ltv.user_data
        security_groups, instance_type = ltv.security_groups, ltv.instance_type
        lt_arg = {"LaunchTemplateId": template.id, "Version": str(ltv.number)}
    subnet_ids = group.vpc_zone_identifier.split(",") if group.vpc_zone_identifier else [None]
    states: list[InstanceState] = []
    for i in range(count):
        subnet_id = subnet_ids[(len(group.instance_states) + i) % len(subnet_ids)]
        if subnet_id is not None:
            placement = ec2.get_subnet(subnet_id).availability_zone
        else:
            placement = random.choice(group.availability_zones)
        reservation = ec2.run_instances(
            image_id,
            1,
            user_data,
            security_groups,
            instance_type=instance_type,
            tags={"instance": dict(tags)},
            placement=placement,
            launch_config=group.launch_config if template is None else None,
            launch_template=lt_arg,
            is_instance_type_default=False,
            associate_public_ip=group.launch_config.associate_public_ip_address if group.launch_config else None,
            subnet_id=subnet_id,
        )
        for instance in reservation.instances:
            instance.autoscaling_group = group  # type: ignore[attr-defined]
            state = InstanceState(instance, protected_from_scale_in=group.new_instances_protected_from_scale_in)
            if ltv is not None:
                state._gray_lt = {  # type: ignore[attr-defined]
                    "LaunchTemplateId": template.id,
                    "LaunchTemplateName": template.name,
                    "Version": str(ltv.number),
                }
            states.append(state)
    group.instance_states.extend(states)
    return states


def launched_from(state: InstanceState) -> tuple[str, str] | None:
    """(template id, version number) an instance was launched from, when known."""
    lt = getattr(state, "_gray_lt", None)
    return (lt["LaunchTemplateId"], lt["Version"]) if lt else None


def terminate(group: FakeAutoScalingGroup, instance_ids: list[str]) -> None:
    """Takes instances out of the group, terminates them, and deregisters them like Auto Scaling does."""
    if not instance_ids:
        return
    backend = group.autoscaling_backend
    group.instance_states = [s for s in group.instance_states if s.instance.id not in instance_ids]
    backend.ec2_backend.terminate_instances(instance_ids)
    if group.name in backend.autoscaling_groups:
        backend.update_attached_elbs(group.name)
        backend.update_attached_target_groups(group.name)


def sync_target_groups(backend: AutoScalingBackend, group_name: str) -> None:
    """Deregisters from the group's target groups every instance the group launched that is no
    longer in it: terminated ones go to moto's terminated list (`draining` when asked by id),
    detached ones are deregistered (`unused`)."""
    group = backend.autoscaling_groups[group_name]
    if not group.target_group_arns:
        return
    current = {s.instance.id for s in group.instance_states}
    for tg in backend.elbv2_backend.describe_target_groups(
        target_group_arns=group.target_group_arns, load_balancer_arn=None, names=None
    ):
        terminated: list[str] = []
        detached: list[str] = []
        for target_id in list(tg.targets):
            if target_id in current:
                continue
            instance = backend.ec2_backend.get_instance_by_id(target_id)
            if instance is None or getattr(instance, "autoscaling_group", None) is not group:
                continue  # registered by hand, not Auto Scaling's to remove
            (terminated if instance.state in ("terminated", "shutting-down") else detached).append(target_id)
        if terminated:
            tg.deregister_terminated_instances(terminated)
        if detached:
            tg.deregister([{"Id": t} for t in detached])


def install() -> None:
    require(FakeAutoScalingGroup, "replace_autoscaling_group_instances", ["self", "count_needed", "propagated_tags"])
    # Instance attributes the launch helper reads; a group only exists at request time, too late to fail.
    assigned = set(FakeAutoScalingGroup.__init__.__code__.co_names) | set(
        require(FakeAutoScalingGroup, "_set_launch_configuration").__code__.co_names
    )
    for attr in ("ec2_launch_template", "launch_template_version", "launch_config", "vpc_zone_identifier"):
        if attr not in assigned:
            raise RuntimeError(f"gray emulator: FakeAutoScalingGroup no longer sets {attr}; review autoscaling.py")

    def replace_autoscaling_group_instances(self: Any, count_needed: int, propagated_tags: dict[str, str]) -> None:
        if self.ec2_launch_template is None:
            launch(self, count_needed, None, None)
            return
        ltv = resolve_version(self.ec2_launch_template, self.launch_template_version)
        launch(self, count_needed, self.ec2_launch_template, ltv.number)

    replace(
        FakeAutoScalingGroup,
        "replace_autoscaling_group_instances",
        replace_autoscaling_group_instances,
        "launch the group's launch template VERSION and record it per instance",
    )

    orig_lt = require(InstanceState, "launch_template")
    if not isinstance(orig_lt, property):
        raise RuntimeError("gray emulator: InstanceState.launch_template is no longer a property")
    replace(
        InstanceState,
        "launch_template",
        property(lambda self: getattr(self, "_gray_lt", None) or orig_lt.fget(self)),
        "report the version the instance was launched from",
    )

    orig_update_tgs = require(AutoScalingBackend, "update_attached_target_groups", ["self", "group_name"])

    def update_attached_target_groups(self: Any, group_name: str) -> None:
        orig_update_tgs(self, group_name)
        sync_target_groups(self, group_name)

    replace(
        AutoScalingBackend,
        "update_attached_target_groups",
        update_attached_target_groups,
        "deregister instances the group terminated or detached",
    )
