/**
 * Renders the Terraform module's `gray_deploy_config` output into gray-deploy's --config file,
 * as JSON or YAML, after checking it against the tool's own option schema (every key an option
 * name, every value accepted by the option's parser), so a config that would be refused at deploy
 * time is refused here, next to `terraform apply`.
 *
 *   terraform -chdir=infra output -json | npx tsx scripts/render-config.ts --format yaml --out gray-deploy.yaml
 *   terraform -chdir=infra output -json gray_deploy_config | npx tsx scripts/render-config.ts > gray-deploy.json
 *
 * Input (a file argument or stdin): either the whole `terraform output -json` map (the
 * `gray_deploy_config` output is taken from it, or from `--output NAME`), or that output's value.
 * Exit: 0 written, 2 invalid input (nothing written).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { stringify } from "yaml";
import { OPTION_DEFS, type OptionName, parseOptionValue } from "../src/app/schema.js";

export type ConfigFormat = "json" | "yaml";

/** The options an AWS rollout cannot do without, beyond the image (given per release). */
export const REQUIRED_KEYS: readonly OptionName[] = [
  "target",
  "region",
  "listenerArn",
  "stableTargetGroupArn",
  "grayTargetGroupArn",
  "stableAsg",
  "grayAsg",
  "launchTemplate",
  "stateTable",
];

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Picks the config object out of `terraform output -json` (all outputs, or one output's value). */
export function extractConfig(input: unknown, outputName = "gray_deploy_config"): Record<string, unknown> {
  if (!isRecord(input)) throw new Error("expected a JSON object from `terraform output -json`");
  if (outputName in input) {
    const output = input[outputName];
    if (!isRecord(output) || !("value" in output) || !isRecord(output.value)) {
      throw new Error(`output ${outputName} has no object value`);
    }
    return output.value;
  }
  if ("target" in input) return input;
  const names = Object.keys(input);
  throw new Error(
    `no output ${outputName} in the input (outputs: ${names.length > 0 ? names.join(", ") : "none"}); did terraform apply run?`,
  );
}

/** Every problem of the config, in the tool's words; empty when the tool would accept it. */
export function validateConfig(config: Readonly<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (!(key in OPTION_DEFS)) {
      problems.push(`${key}: not a gray-deploy option`);
      continue;
    }
    if (value === null) continue;
    const parsed = parseOptionValue(key as OptionName, value);
    if (!parsed.ok) problems.push(`${key}: ${parsed.message}`);
  }
  for (const key of REQUIRED_KEYS) {
    if (config[key] === undefined || config[key] === null) problems.push(`${key}: missing`);
  }
  if (config.target !== undefined && config.target !== "aws")
    problems.push(`target: expected "aws", got ${JSON.stringify(config.target)}`);
  if (typeof config.region === "string") {
    for (const key of ["listenerArn", "ruleArn", "stableTargetGroupArn", "grayTargetGroupArn"] as const) {
      const arn = config[key];
      if (typeof arn === "string" && arn.split(":")[3] !== config.region) {
        problems.push(`${key}: in region ${arn.split(":")[3]}, but region is ${config.region}`);
      }
    }
  }
  if (typeof config.ruleArn === "string" && typeof config.listenerArn === "string") {
    const listenerOfRule = config.ruleArn
      .replace(":listener-rule/", ":listener/")
      .replace(/\/[0-9a-f]{16}$/, "");
    if (listenerOfRule !== config.listenerArn) problems.push("ruleArn: does not belong to listenerArn");
  }
  return problems;
}

/** The config file's text. Null values (unset optional outputs) are left out. */
export function renderConfig(config: Readonly<Record<string, unknown>>, format: ConfigFormat): string {
  const clean = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== null && v !== undefined));
  if (format === "json") return `${JSON.stringify(clean, null, 2)}\n`;
  return `# gray-deploy configuration rendered from Terraform (gray-deployment module); flags override it.\n${stringify(clean)}`;
}

interface Args {
  format: ConfigFormat;
  out: string | undefined;
  input: string | undefined;
  output: string;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { format: "json", out: undefined, input: undefined, output: "gray_deploy_config" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--format") {
      const f = next();
      if (f !== "json" && f !== "yaml") throw new Error(`--format must be json or yaml, not ${f}`);
      args.format = f;
    } else if (a === "--out") args.out = next();
    else if (a === "--output") args.output = next();
    else if (a === "--help" || a === "-h") {
      throw new Error(
        "usage: terraform output -json | npx tsx scripts/render-config.ts [--format json|yaml] [--out FILE] [--output NAME] [FILE|-]",
      );
    } else if (!a.startsWith("--") && args.input === undefined) args.input = a;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

export function main(argv: readonly string[]): number {
  try {
    const args = parseArgs(argv);
    const text = readFileSync(args.input === undefined || args.input === "-" ? 0 : args.input, "utf8");
    const config = extractConfig(JSON.parse(text) as unknown, args.output);
    const problems = validateConfig(config);
    if (problems.length > 0) {
      process.stderr.write(
        `render-config: the configuration would be refused by gray-deploy:\n  ${problems.join("\n  ")}\n`,
      );
      return 2;
    }
    const rendered = renderConfig(config, args.format);
    if (args.out === undefined) process.stdout.write(rendered);
    else {
      writeFileSync(args.out, rendered);
      process.stderr.write(`render-config: wrote ${args.out}\n`);
    }
    return 0;
  } catch (e) {
    process.stderr.write(`render-config: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
