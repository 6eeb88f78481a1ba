"""EC2 CreateLaunchTemplateVersion: decode UserData like CreateLaunchTemplate does, honour SourceVersion.

moto 5.2.4 gap: its CreateLaunchTemplateVersion stores LaunchTemplateData.UserData as the raw request
string, while every reader (LaunchTemplateVersion.user_data, used by Auto Scaling launches) asserts
a Base64EncodedString, so an ASG launching such a version fails with HTTP 500. It also ignores
SourceVersion, which real AWS uses as the base of the new version ("the new version inherits the
launch parameters of the source version, except those given in LaunchTemplateData").
"""

from __future__ import annotations

import copy
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import InvalidParameterCombination, MissingParameterError
from moto.ec2.responses import EC2Response
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.ec2.utils import parse_user_data

from ._patching import replace


def create_launch_template_version(self: Any) -> ActionResult:
    name = self._get_param("LaunchTemplateName")
    tmpl_id = self._get_param("LaunchTemplateId")
    if name and tmpl_id:
        raise InvalidParameterCombination("Specify either the launch template ID or the launch template name.")
    if tmpl_id:
        template = self.ec2_backend.get_launch_template(tmpl_id)
    elif name:
        template = self.ec2_backend.get_launch_template_by_name(name)
    else:
        raise MissingParameterError("launch template ID or launch template name")

    given: dict[str, Any] = self._get_param("LaunchTemplateData", {}) or {}
    source_version = self._get_param("SourceVersion")
    data: dict[str, Any] = {}
    if source_version:
        # Top-level parameters given in the request replace the source's, as on AWS.
        data = copy.deepcopy(template.get_version(source_version).data)
    for key, value in given.items():
        data[key] = parse_user_data(value) if key == "UserData" else value
    self.error_on_dryrun()

    version = template.create_version(data, self._get_param("VersionDescription"))
    return ActionResult(
        {
            "LaunchTemplateVersion": {
                "CreateTime": version.create_time,
                "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
                "DefaultVersion": template.is_default(version),
                "LaunchTemplateData": version.data,
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
                "VersionDescription": version.description,
                "VersionNumber": version.number,
            }
        }
    )


def install() -> None:
    replace(
        LaunchTemplates,
        "create_launch_template_version",
        create_launch_template_version,
        "decode UserData and honour SourceVersion",
        params=["self"],
    )
    # EC2Response inherits the method; make sure no subclass shadows the patched one.
    if EC2Response.create_launch_template_version is not create_launch_template_version:
        raise RuntimeError("gray emulator: EC2Response overrides create_launch_template_version; patch it there")
