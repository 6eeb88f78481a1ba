/**
 * What AWS API calls does gray-deploy make? Read from its source: every AWS SDK v3 command class
 * (and paginator) imported from an `@aws-sdk/client-*` package (or `@aws-sdk/lib-dynamodb`)
 * anywhere under `src/`, mapped to the IAM action it needs. The IAM policy test reconciles that
 * set with the policy document, both ways.
 *
 * The scan is deliberately strict: anything it cannot map (an aggregated client whose method calls
 * it cannot see, a waiter, a client package without a known IAM prefix, a `new …Command(` in
 * src/aws that was not imported from the SDK) is a problem the test reports, never a silent skip.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";

/** SDK package → IAM service prefix. */
export const CLIENT_PREFIX: Readonly<Record<string, string>> = {
  "@aws-sdk/client-elastic-load-balancing-v2": "elasticloadbalancing",
  "@aws-sdk/client-auto-scaling": "autoscaling",
  "@aws-sdk/client-ec2": "ec2",
  "@aws-sdk/client-cloudwatch": "cloudwatch",
  "@aws-sdk/client-dynamodb": "dynamodb",
  "@aws-sdk/lib-dynamodb": "dynamodb",
  "@aws-sdk/client-ecr": "ecr",
  "@aws-sdk/client-sts": "sts",
  "@aws-sdk/client-iam": "iam",
  "@aws-sdk/client-ssm": "ssm",
  "@aws-sdk/client-lambda": "lambda",
  "@aws-sdk/client-eventbridge": "events",
  "@aws-sdk/client-sns": "sns",
};

/** The DynamoDB document client's commands carry other names than the API operations they call. */
export const DOCUMENT_CLIENT_ACTIONS: Readonly<Record<string, string>> = {
  Get: "GetItem",
  Put: "PutItem",
  Update: "UpdateItem",
  Delete: "DeleteItem",
  Query: "Query",
  Scan: "Scan",
  BatchGet: "BatchGetItem",
  BatchWrite: "BatchWriteItem",
  TransactGet: "TransactGetItems",
  TransactWrite: "TransactWriteItems",
};

/** Aggregated ("v2-style") clients: their method calls are invisible to an import scan. */
export const AGGREGATED_CLIENTS: ReadonlySet<string> = new Set([
  "ElasticLoadBalancingV2",
  "AutoScaling",
  "EC2",
  "CloudWatch",
  "DynamoDB",
  "DynamoDBDocument",
  "ECR",
  "STS",
  "IAM",
  "SSM",
  "Lambda",
  "EventBridge",
  "SNS",
]);

/** Source trees whose every `new …Command(` must be an SDK command this scan resolved. */
export const STRICT_DIRS = ["src/aws", "src/guard"] as const;

export interface SdkUse {
  readonly file: string;
  readonly line: number;
  readonly pkg: string;
  readonly identifier: string;
  /** "service:Action" */
  readonly action: string;
}

export interface ScanResult {
  readonly uses: readonly SdkUse[];
  readonly problems: readonly string[];
}

const SDK_PKG = "@aws-sdk\\/(?:client-[a-z0-9-]+|lib-dynamodb)";
const NAMED_IMPORT = new RegExp(
  `(?:import|export)\\s+(type\\s+)?\\{([^}]*)\\}\\s*from\\s*["'](${SDK_PKG})["']`,
  "g",
);
const NAMESPACE_IMPORT = new RegExp(`import\\s+\\*\\s+as\\s+(\\w+)\\s+from\\s*["'](${SDK_PKG})["']`, "g");
const DYNAMIC_IMPORT = new RegExp(
  `\\{([^}]*)\\}\\s*=\\s*await\\s+import\\(\\s*["'](${SDK_PKG})["']\\s*\\)`,
  "g",
);

/** `import sdk from "./sdk.cjs"`: a CommonJS module of the tree that requires SDK packages (src/aws/sdk.cjs). */
const CJS_DEFAULT_IMPORT = /import\s+(\w+)\s+from\s*["'](\.{1,2}\/[^"']+\.cjs)["']/g;
/** `exports.elb = require("@aws-sdk/client-elastic-load-balancing-v2")` in that module. */
const CJS_SDK_EXPORT = new RegExp(`exports\\.(\\w+)\\s*=\\s*require\\(\\s*["'](${SDK_PKG})["']\\s*\\)`, "g");

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split("\n").length;
}

/** `{ A, type B, C as D }` → [["A","A"], ["C","D"]] (imported name, local name); type-only skipped. */
function specifiers(list: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of list.split(",")) {
    const s = part.replace(/\/\/.*$/gm, "").trim();
    if (s === "" || s.startsWith("type ")) continue;
    const m = /^(\w+)(?:\s+as\s+(\w+))?$/.exec(s) ?? /^(\w+)\s*:\s*(\w+)$/.exec(s);
    if (!m) continue;
    out.push([m[1]!, m[2] ?? m[1]!]);
  }
  return out;
}

type Classified =
  | { kind: "action"; action: string }
  | { kind: "problem"; message: string }
  | { kind: "ignore" };

/** What an identifier imported from an SDK package means for IAM. */
export function classify(pkg: string, identifier: string): Classified {
  const prefix = CLIENT_PREFIX[pkg];
  const isCommand = /^[A-Z]\w*Command$/.test(identifier) && identifier !== "Command";
  const isPaginator = /^paginate[A-Z]\w*$/.test(identifier);
  if (AGGREGATED_CLIENTS.has(identifier)) {
    return {
      kind: "problem",
      message: `aggregated client ${identifier} from ${pkg}: its method calls are invisible to the policy test; use ${pkg.endsWith("lib-dynamodb") ? "DynamoDBDocumentClient" : "the …Client"} with …Command classes`,
    };
  }
  if (/^waitUntil[A-Z]|^waitFor[A-Z]/.test(identifier)) {
    return {
      kind: "problem",
      message: `waiter ${identifier} from ${pkg}: the policy test cannot tell which Describe call it makes; poll with the Describe command instead, or teach test/iac/sdk-usage.ts its action`,
    };
  }
  if (!isCommand && !isPaginator) return { kind: "ignore" };
  if (prefix === undefined) {
    return {
      kind: "problem",
      message: `${identifier} from ${pkg}: no IAM service prefix known for ${pkg} (add it to CLIENT_PREFIX)`,
    };
  }
  const operation = isCommand ? identifier.slice(0, -"Command".length) : identifier.slice("paginate".length);
  if (pkg === "@aws-sdk/lib-dynamodb") {
    const mapped = DOCUMENT_CLIENT_ACTIONS[operation];
    if (mapped === undefined) {
      return {
        kind: "problem",
        message: `${identifier} from ${pkg}: unknown document-client command (add it to DOCUMENT_CLIENT_ACTIONS)`,
      };
    }
    return { kind: "action", action: `${prefix}:${mapped}` };
  }
  const action = `${prefix}:${operation}`;
  return { kind: "action", action: ACTION_OF_OPERATION[action] ?? action };
}

/**
 * API operations whose IAM action has another name (Service Authorization Reference): Lambda's
 * Invoke is authorised as lambda:InvokeFunction.
 */
export const ACTION_OF_OPERATION: Readonly<Record<string, string>> = {
  "lambda:Invoke": "lambda:InvokeFunction",
};

/** Scans one source file. `strict`: every `new XxxCommand(` must resolve to an SDK import. */
export function scanSource(
  file: string,
  text: string,
  strict: boolean,
  /** The text of a module the file imports (by its specifier), for SDK packages it requires. */
  readModule?: (specifier: string) => string | undefined,
): ScanResult {
  const uses: SdkUse[] = [];
  const problems: string[] = [];
  const sdkLocals = new Set<string>();
  const record = (pkg: string, identifier: string, local: string, index: number) => {
    const c = classify(pkg, identifier);
    const line = lineOf(text, index);
    if (c.kind === "action") {
      uses.push({ file, line, pkg, identifier, action: c.action });
      sdkLocals.add(local);
    } else if (c.kind === "problem") {
      problems.push(`${file}:${line}: ${c.message}`);
    }
  };
  for (const m of text.matchAll(NAMED_IMPORT)) {
    if (m[1]) continue; // `import type { … }`
    for (const [imported, local] of specifiers(m[2]!)) record(m[3]!, imported, local, m.index);
  }
  for (const m of text.matchAll(DYNAMIC_IMPORT)) {
    for (const [imported, local] of specifiers(m[1]!)) record(m[2]!, imported, local, m.index);
  }
  // `import sdk from "./sdk.cjs"; const { ModifyRuleCommand } = sdk.elb;`: the SDK through require.
  for (const m of text.matchAll(CJS_DEFAULT_IMPORT)) {
    const local = m[1]!;
    const cjs = readModule?.(m[2]!);
    if (cjs === undefined) {
      problems.push(
        `${file}:${lineOf(text, m.index)}: cannot read ${m[2]} to see which AWS SDK packages it requires`,
      );
      continue;
    }
    const packages = new Map([...cjs.matchAll(CJS_SDK_EXPORT)].map((e) => [e[1]!, e[2]!] as const));
    for (const d of text.matchAll(new RegExp(`const\\s*\\{([^}]*)\\}\\s*=\\s*${local}\\.(\\w+)`, "g"))) {
      const pkg = packages.get(d[2]!);
      if (pkg === undefined) continue; // not an SDK client package (e.g. credential providers)
      for (const [imported, alias] of specifiers(d[1]!)) record(pkg, imported, alias, d.index);
    }
  }
  for (const m of text.matchAll(NAMESPACE_IMPORT)) {
    const ns = m[1]!;
    const pkg = m[2]!;
    const seen = new Set<string>();
    for (const u of text.matchAll(new RegExp(`\\b${ns}\\.(\\w+)`, "g"))) {
      const id = u[1]!;
      if (seen.has(id)) continue;
      seen.add(id);
      record(pkg, id, `${ns}.${id}`, u.index);
    }
  }
  if (strict) {
    for (const m of text.matchAll(/\bnew\s+([\w.]+Command)\s*\(/g)) {
      const id = m[1]!;
      if (!sdkLocals.has(id)) {
        problems.push(
          `${file}:${lineOf(text, m.index)}: new ${id}(…) is not an AWS SDK command imported in this file; import it from its @aws-sdk/client-* package so the policy test can map it to an IAM action`,
        );
      }
    }
  }
  return { uses, problems };
}

function walk(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    if (e === "node_modules" || e.startsWith(".")) continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.(ts|mts|cts|js|mjs)$/.test(e) && !e.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Scans every source file under root/src. */
export function scanTree(root: string): ScanResult & { readonly files: number } {
  const files = walk(join(root, "src"));
  const uses: SdkUse[] = [];
  const problems: string[] = [];
  for (const path of files) {
    const rel = relative(root, path).split("\\").join("/");
    const strict = STRICT_DIRS.some((d) => rel.startsWith(`${d}/`));
    const r = scanSource(rel, readFileSync(path, "utf8"), strict, (specifier) => {
      try {
        return readFileSync(join(dirname(path), specifier), "utf8");
      } catch {
        return undefined;
      }
    });
    uses.push(...r.uses);
    problems.push(...r.problems);
  }
  return { uses, problems, files: files.length };
}

/** Calls that need no permission in any identity policy. */
export const NO_PERMISSION_NEEDED: Readonly<Record<string, string>> = {
  "sts:GetCallerIdentity":
    "STS GetCallerIdentity is allowed for every authenticated principal; an explicit deny cannot block it either.",
};

/**
 * Calls the tool makes that deliberately stay out of the pipeline policy: `gray-deploy bootstrap`
 * creates the state table for accounts that do not use this module. Whoever runs bootstrap once
 * needs them (see the module README); the pipeline, whose table Terraform creates, does not.
 */
export const NOT_IN_PIPELINE_POLICY: Readonly<Record<string, string>> = {
  "dynamodb:CreateTable": "bootstrap only: Terraform creates the table",
  "dynamodb:UpdateTimeToLive": "bootstrap only: Terraform enables TTL on expiresAt",
  "dynamodb:DescribeTimeToLive": "bootstrap only: checks an existing table's TTL",
  "dynamodb:UpdateContinuousBackups": "bootstrap only: Terraform enables point-in-time recovery",
  "dynamodb:DescribeContinuousBackups": "bootstrap only: checks an existing table's point-in-time recovery",
  "dynamodb:TagResource": "bootstrap only: Terraform tags the table",
};

export interface ImplicitAction {
  readonly action: string;
  /** The policy needs `action` as soon as the tool makes any of these calls. */
  readonly triggeredBy: readonly string[];
  readonly reason: string;
}

/**
 * Permissions AWS checks on the caller although the tool never calls the action itself.
 * Each is needed only when the tool makes one of the calls that trigger it.
 */
export const IMPLICIT_ACTIONS: readonly ImplicitAction[] = [
  {
    action: "ec2:RunInstances",
    triggeredBy: ["autoscaling:UpdateAutoScalingGroup", "autoscaling:StartInstanceRefresh"],
    reason:
      "EC2 Auto Scaling checks the caller's ec2:RunInstances permission when a group is created or updated with a launch template (here: pointing gray/stable at a release's version).",
  },
  {
    action: "ec2:CreateTags",
    triggeredBy: ["autoscaling:UpdateAutoScalingGroup", "autoscaling:StartInstanceRefresh"],
    reason:
      "…and ec2:CreateTags (on create, ec2:CreateAction = RunInstances) when the launch template has tag specifications.",
  },
  {
    action: "iam:PassRole",
    triggeredBy: ["autoscaling:UpdateAutoScalingGroup", "autoscaling:StartInstanceRefresh"],
    reason: "…and iam:PassRole on the role of the launch template's instance profile.",
  },
  ...[
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
  ].map((action) => ({
    action,
    triggeredBy: ["ecr:GetAuthorizationToken"],
    reason:
      "Publishing pushes the image through the registry API with the token from GetAuthorizationToken; ECR authorizes each push step as this IAM action (AWS's documented push permissions).",
  })),
];

export interface Reconciliation {
  /** Needed but not in the policy: "action (why)". */
  readonly missing: readonly string[];
  /** In the policy but needed by nothing. */
  readonly unused: readonly string[];
  /** Everything the policy must hold, sorted. */
  readonly needed: readonly string[];
}

/**
 * Compares the actions the tool's calls need with the policy's actions, both ways.
 * `calls` maps each "service:Action" the tool calls to where it is called.
 */
export function reconcile(
  calls: ReadonlyMap<string, readonly string[]>,
  policyActions: ReadonlySet<string>,
): Reconciliation {
  const needed = new Map<string, string>();
  for (const [action, where] of calls) {
    if (action in NO_PERMISSION_NEEDED || action in NOT_IN_PIPELINE_POLICY) continue;
    needed.set(action, `called in ${[...new Set(where)].join(", ")}`);
  }
  for (const implicit of IMPLICIT_ACTIONS) {
    const trigger = implicit.triggeredBy.find((t) => needed.has(t));
    if (trigger !== undefined && !needed.has(implicit.action)) {
      needed.set(implicit.action, `required by AWS for ${trigger}: ${implicit.reason}`);
    }
  }
  const missing = [...needed]
    .filter(([action]) => !policyActions.has(action))
    .map(([action, why]) => `${action} (${why})`)
    .sort();
  const unused = [...policyActions].filter((a) => !needed.has(a)).sort();
  return { missing, unused, needed: [...needed.keys()].sort() };
}

/** Groups scan results by action. */
export function callsByAction(uses: readonly SdkUse[]): Map<string, string[]> {
  const calls = new Map<string, string[]>();
  for (const u of uses) {
    const where = calls.get(u.action) ?? [];
    where.push(`${u.file}:${u.line}`);
    calls.set(u.action, where);
  }
  return calls;
}
