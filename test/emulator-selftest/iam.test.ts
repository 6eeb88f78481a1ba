import { DescribeAutoScalingGroupsCommand, StartInstanceRefreshCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeVpcsCommand } from "@aws-sdk/client-ec2";
import { describe, expect, it } from "vitest";
import { awsClients, buildAwsFixture, createIamUser } from "../support/aws-fixture.js";
import { useEmulator } from "./helpers.js";

// Exactly the four calls that create a user, its policy and its key pass unauthenticated.
const { emu } = useEmulator({ iamInitialNoAuthActionCount: 4 });

const allow = (actions: string[] | string) => ({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: actions, Resource: "*" }],
});

const errorOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => "no error",
    (e: Error) => e.name,
  );

describe("IAM enforcement (INITIAL_NO_AUTH_ACTION_COUNT)", () => {
  it("allows what the policy allows and denies the rest, extension actions included", async () => {
    const creds = await createIamUser(
      emu().clientConfig(),
      "gray-deployer",
      allow(["autoscaling:DescribeAutoScalingGroups"]),
    );
    const allowed = awsClients(emu().clientConfig(creds));
    const stranger = awsClients(emu().clientConfig());
    try {
      const groups = await allowed.autoScaling.send(new DescribeAutoScalingGroupsCommand({}));
      expect(groups.AutoScalingGroups).toEqual([]);
      expect(await errorOf(allowed.ec2.send(new DescribeVpcsCommand({})))).toBe("AccessDenied");
      expect(
        await errorOf(
          allowed.autoScaling.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: "x" })),
        ),
      ).toBe("AccessDenied");
      // Credentials the emulator never issued are rejected once the budget is spent.
      expect(await errorOf(stranger.autoScaling.send(new DescribeAutoScalingGroupsCommand({})))).toBe(
        "InvalidClientTokenId",
      );
    } finally {
      allowed.destroy();
      stranger.destroy();
    }
  });

  it("restores the budget on reset; an admin builds the fixture, a least-privilege user is denied writes", async () => {
    const adminCreds = await createIamUser(emu().clientConfig(), "admin", allow("*"));
    const admin = awsClients(emu().clientConfig(adminCreds));
    const fx = await buildAwsFixture(admin);
    const readOnlyCreds = await createIamUser(
      emu().clientConfig(adminCreds),
      "reader",
      allow(["autoscaling:Describe*", "ec2:DescribeVpcs"]),
    );
    const reader = awsClients(emu().clientConfig(readOnlyCreds));
    try {
      const vpcs = await reader.ec2.send(new DescribeVpcsCommand({}));
      expect(vpcs.Vpcs?.map((v) => v.VpcId)).toContain(fx.vpcId);
      const groups = await reader.autoScaling.send(new DescribeAutoScalingGroupsCommand({}));
      expect(groups.AutoScalingGroups?.map((g) => g.AutoScalingGroupName).sort()).toEqual(
        [fx.gray.asgName, fx.stable.asgName].sort(),
      );
      expect(
        await errorOf(
          reader.autoScaling.send(
            new StartInstanceRefreshCommand({ AutoScalingGroupName: fx.stable.asgName }),
          ),
        ),
      ).toBe("AccessDenied");
      expect(
        await errorOf(
          admin.autoScaling.send(
            new StartInstanceRefreshCommand({ AutoScalingGroupName: fx.stable.asgName }),
          ),
        ),
      ).toBe("no error");
    } finally {
      admin.destroy();
      reader.destroy();
    }
  });
});
