/**
 * Launch templates: the template both groups use, its versions, and the release's version — created
 * from the version stable runs (SourceVersion), differing only in the image reference in the user
 * data (user-data.ts) and, with --ami, the AMI. Its VersionDescription names the image and its source
 * version, so a rerun with the same image finds and reuses it instead of creating another.
 */
import type { LaunchTemplateVersion } from "@aws-sdk/client-ec2";
import { PreflightError, ProviderError } from "../../contract/errors.js";
import type { ReleaseSpec } from "../../ports/index.js";
import type { AwsApi } from "../api.js";
import { isAwsCode } from "../errors.js";
import { decodeUserData, encodeUserData, findImageReference, replaceImageReference } from "../user-data.js";
import {
  type AwsFleetOptions,
  ecrCoordinates,
  LT_NOT_FOUND,
  releaseDescription,
  type TemplateRef,
} from "./shared.js";

export class LaunchTemplates {
  #template: TemplateRef | null = null;

  constructor(private readonly c: { o: AwsFleetOptions; api: AwsApi }) {}

  async resolve(signal?: AbortSignal): Promise<TemplateRef> {
    if (this.#template !== null) return this.#template;
    const given = this.c.o.launchTemplate;
    const byId = /^lt-[0-9a-f]{8,17}$/.test(given);
    const out = await this.c.api.ec2
      .describeLaunchTemplates(
        byId ? { LaunchTemplateIds: [given] } : { LaunchTemplateNames: [given] },
        signal,
      )
      .catch((e: unknown) => {
        if (isAwsCode(e, ...LT_NOT_FOUND)) {
          throw new PreflightError(`launch template ${given} does not exist`, {
            field: "launchTemplate",
            fix: "pass the id (lt-…) or name of the launch template both Auto Scaling groups use",
            cause: e,
          });
        }
        throw e;
      });
    const lt = out.LaunchTemplates?.[0];
    if (lt?.LaunchTemplateId === undefined) {
      throw new PreflightError(`launch template ${given} does not exist`, { field: "launchTemplate" });
    }
    this.#template = { id: lt.LaunchTemplateId, name: lt.LaunchTemplateName ?? given };
    return this.#template;
  }

  async version(version: string, signal?: AbortSignal): Promise<LaunchTemplateVersion> {
    const t = await this.resolve(signal);
    const out = await this.c.api.ec2.describeLaunchTemplateVersions(
      { LaunchTemplateId: t.id, Versions: [version] },
      signal,
    );
    const v = out.LaunchTemplateVersions?.[0];
    if (v === undefined) {
      throw new PreflightError(`launch template ${t.name} has no version ${version}`, {
        field: "launchTemplate",
      });
    }
    return v;
  }

  /** The launch template and version a group launches from; refuses anything else gray-deploy cannot drive. */

  /** For ECR images: the image must exist (a typo'd tag would never become healthy). Returns facts. */
  async checkImage(image: string, signal?: AbortSignal): Promise<string[]> {
    const ecr = ecrCoordinates(image);
    if (ecr === null) return [`image ${image} is not in ECR: its existence is not checked`];
    const imageId =
      ecr.digest !== undefined ? { imageDigest: ecr.digest } : { imageTag: ecr.tag ?? "latest" };
    try {
      const out = await this.c.api
        .ecr(ecr.region)
        .describeImages(
          { registryId: ecr.registryId, repositoryName: ecr.repository, imageIds: [imageId] },
          signal,
        );
      const d = out.imageDetails?.[0];
      return [`image ${image} exists in ECR${d?.imageDigest ? ` (${d.imageDigest})` : ""}`];
    } catch (e) {
      if (isAwsCode(e, "ImageNotFoundException", "RepositoryNotFoundException")) {
        throw new PreflightError(`image ${image} does not exist in ECR (${e.awsCode})`, {
          field: "image",
          fix: "push the image first (or correct the tag); gray instances could never start it",
          cause: e,
        });
      }
      // Another account's registry or a narrower policy: the instances' own role may still pull it.
      return [`image ${image}: could not check it in ECR (${e instanceof Error ? e.message : String(e)})`];
    }
  }

  async releaseVersion(
    release: ReleaseSpec,
    template: TemplateRef,
    sourceVersion: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const description = releaseDescription(release, sourceVersion);
    let token: string | undefined;
    do {
      const page = await this.c.api.ec2.describeLaunchTemplateVersions(
        {
          LaunchTemplateId: template.id,
          MinVersion: sourceVersion,
          MaxResults: 200,
          ...(token === undefined ? {} : { NextToken: token }),
        },
        signal,
      );
      for (const v of page.LaunchTemplateVersions ?? []) {
        if (v.VersionDescription !== description) continue;
        const script = decodeUserData(v.LaunchTemplateData?.UserData ?? "");
        const found = findImageReference(script);
        if (found.kind === "found" && found.ref === release.image) {
          this.c.o.log?.(
            `reusing launch template ${template.name} version ${v.VersionNumber} for ${release.image}`,
          );
          return String(v.VersionNumber);
        }
      }
      token = page.NextToken;
    } while (token !== undefined && token !== "");

    const source = await this.version(sourceVersion, signal);
    const script = decodeUserData(source.LaunchTemplateData?.UserData ?? "");
    const found = findImageReference(script);
    if (found.kind !== "found") {
      throw new PreflightError(
        `cannot find a single image reference in the user data of launch template ${template.name} version ${sourceVersion}`,
        { field: "launchTemplate" },
      );
    }
    const created = await this.c.api.ec2.createLaunchTemplateVersion(
      {
        LaunchTemplateId: template.id,
        SourceVersion: sourceVersion,
        VersionDescription: description,
        LaunchTemplateData: {
          UserData: encodeUserData(replaceImageReference(script, found, release.image)),
          ...(release.ami === undefined ? {} : { ImageId: release.ami }),
        },
      },
      signal,
    );
    const number = created.LaunchTemplateVersion?.VersionNumber;
    if (number === undefined) {
      throw new ProviderError(`CreateLaunchTemplateVersion on ${template.name} returned no version number`, {
        retryable: true,
      });
    }
    this.c.o.log?.(`created launch template ${template.name} version ${number} for ${release.image}`);
    return String(number);
  }
}
