/** Options of the release being rolled out, read by the verbs (the ReleaseSpec). */
import { CONTROL, optionGroup, type Values } from "../../contract/options/def.js";

/** registry/repository[:tag][@sha256:digest], lower-case repository path as the OCI distribution spec says. */
export const IMAGE_REF =
  /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

export const releaseOptions = optionGroup({
  name: "release",
  defs: {
    image: {
      kind: "string",
      pattern: { re: IMAGE_REF, hint: "registry/repository:tag or registry/repository@sha256:DIGEST" },
      description:
        "The container image of the new version, preferably digest-qualified (…@sha256:…). On AWS it replaces the image reference in the launch template's user data.",
    },
    commit: {
      kind: "string",
      env: ["GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT", "CIRCLE_SHA1"],
      description: "The source commit of the release, recorded in the rollout state and reports.",
    },
    startedBy: {
      kind: "string",
      verbs: CONTROL,
      env: ["GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILD_USER_ID", "CIRCLE_USERNAME", "USER"],
      description: "Who starts, promotes or aborts the rollout, recorded in the state and reports.",
    },
  },
});

export type ReleaseOptions = Values<typeof releaseOptions.defs>;
