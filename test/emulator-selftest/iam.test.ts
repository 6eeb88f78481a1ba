import { DescribeAutoScalingGroupsCommand, StartInstanceRefreshCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeVpcsCommand } from "@aws-sdk/client-ec2";
import {
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreatePolicyCommand,
  CreateUserCommand,
  IAMClient,
} from "@aws-sdk/client-iam";
import { describe, expect, it } from "vitest";
import { awsClients } from "../support/aws-fixture.js";
import { useEmulator } from "./helpers.js";

// Exactly the four calls that create the user, its policy and its key pass unauthenticated.
const { emu } = useEmulator({ iamInitialNoAuthActionCount: 4 });

async function userWithPolicy(actions: string[]): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const iam = new IAMClient({ ...emu().clientConfig(), region: "us-east-1" });
  try {
    await iam.send(new CreateUserCommand({ UserName: "gray-deployer" }));
    const policy = await iam.send(
      new CreatePolicyCommand({
        PolicyName: "gray-deploy",
        PolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: actions, Resource: "*" }],
        }),
      }),
    );
    await iam.send(
      new AttachUserPolicyCommand({ UserName: "gray-deployer", PolicyArn: policy.Policy!.Arn! }),
    );
    const key = await iam.send(new CreateAccessKeyCommand({ UserName: "gray-deployer" }));
    return { accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! };
  } finally {
    iam.destroy();
  }
}

const errorOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => "no error",
    (e: Error) => e.name,
  );

describe("IAM enforcement (INITIAL_NO_AUTH_ACTION_COUNT)", () => {
  it("allows what the policy allows and denies the rest, extension actions included", async () => {
    const creds = await userWithPolicy(["autoscaling:DescribeAutoScalingGroups"]);
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

  it("restores the unauthenticated budget on reset, so each test can create its user", async () => {
    const creds = await userWithPolicy(["ec2:DescribeVpcs"]);
    const clients = awsClients(emu().clientConfig(creds));
    try {
      const vpcs = await clients.ec2.send(new DescribeVpcsCommand({}));
      expect(vpcs.Vpcs?.length).toBeGreaterThan(0);
      expect(await errorOf(clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({})))).toBe(
        "AccessDenied",
      );
    } finally {
      clients.destroy();
    }
  });
});
