/**
 * A team's release module that installs gray-deploy (`dagger install github.com/acme/gray-deploy@v0.1.0`;
 * here the dependency is this repository, `../..`) and releases its service through it.
 *
 * A module that installs gray-deploy passes its own source explicitly: gray-deploy's `--source`
 * default is gray-deploy's own repository, never the caller's.
 */
import { argument, type Directory, dag, func, object, type Secret } from "@dagger.io/dagger";

@object()
export class DaggerConsumer {
  /**
   * Rehearse this service's release policy on gray-deploy's local environment (no AWS account): a faulty version must be rolled back.
   *
   * Example: `dagger -m examples/dagger-consumer call rehearse --gray-error-rate 5%`
   */
  @func({ cache: "never" })
  async rehearse(
    /** Fault injected into the new version: share of its requests that answer 500. */
    grayErrorRate = "0%",
  ): Promise<string> {
    // Every option of the rollout is gray-deploy's (its constructor's); deployGray takes the build inputs.
    return dag.grayDeploy({ target: "local", steps: "10,50,100", grayErrorRate }).deployGray();
  }

  /**
   * Build this service, push it to ECR and roll it out on AWS behind a manual gate before promotion.
   *
   * Example: `dagger -m examples/dagger-consumer call release --role-arn arn:aws:iam::123456789012:role/gray-deploy-gatewaypix --web-identity-token env:ID_TOKEN`
   */
  @func({ cache: "never" })
  async release(
    /** The IAM role the pipeline assumes. */
    roleArn: string,
    /** The CI's OIDC token, exchanged for the role's credentials. */
    webIdentityToken: Secret,
    /** This service's source: the module passes it to gray-deploy explicitly. */
    @argument({ defaultPath: "/examples/sample-gateway", ignore: ["node_modules"] })
    source: Directory,
    /** The commit being released (names the image tag). */
    commit?: string,
  ): Promise<string> {
    // The options of the rollout — the target, where it lives, the credentials, the gate — are given to
    // gray-deploy's constructor once; the function takes only what it builds.
    const gray = dag.grayDeploy({
      target: "aws",
      region: "sa-east-1",
      roleArn,
      webIdentityToken,
      listenerArn:
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/app/payments/0123456789abcdef/0123456789abcdef",
      stateTable: "gray-deploy-state",
      stableTargetGroupArn:
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gateway-stable/0123456789abcdef",
      grayTargetGroupArn:
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gateway-gray/fedcba9876543210",
      stableAsg: "gateway-stable",
      grayAsg: "gateway-gray",
      launchTemplate: "lt-0123456789abcdef0",
      approveBefore: ["promotion"],
      commit,
    });
    return gray.deployGray({ source, repository: "payments/sample-gateway" });
  }
}
