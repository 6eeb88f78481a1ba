/** Options of a run's output, read by the application layer and the CLI. */
import { ALL_VERBS, optionGroup, type Values } from "../contract/options/def.js";

export const outputOptions = optionGroup({
  name: "output",
  defs: {
    json: {
      kind: "boolean",
      default: false,
      verbs: ALL_VERBS,
      frontEnds: ["cli"],
      description: "Print the Outcome JSON as the only output on stdout (progress stays on stderr).",
    },
    config: {
      kind: "string",
      verbs: ALL_VERBS,
      description: "A JSON or YAML file with any of these options (camelCase keys); flags override it.",
    },
    reportDir: {
      kind: "string",
      verbs: ["deploy-gray", "promote", "abort", "status"],
      frontEnds: ["cli"],
      description: "Write report.json, report.md and timeline.svg of the rollout into this directory.",
    },
    notifyWebhook: {
      kind: "string",
      verbs: ["deploy-gray", "promote", "abort"],
      sensitive: true,
      pattern: { re: /^https?:\/\/\S+$/, hint: "https://hooks.example.com/…" },
      env: ["GRAY_DEPLOY_NOTIFY_WEBHOOK"],
      description:
        "POST each phase change and the outcome as JSON (Slack-compatible `text`). Treated as a secret.",
    },
  },
});

export type OutputOptions = Values<typeof outputOptions.defs>;
