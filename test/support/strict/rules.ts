/**
 * Rules AWS documents and enforces that its API models do not encode (the models carry no min/max on
 * a forward weight, no list of legal metric periods). Each rule names the AWS documentation page it
 * comes from and quotes what the page says; the strict proxy applies them after the model's own
 * constraints (validate.ts).
 *
 * To add a rule (later issues: a higher-priority header/cookie rule, Lambda Invoke, high-resolution
 * custom metrics, instance refresh alarms and bake time): append one object to RULES with the page
 * it comes from, and one rejected request to test/strict/strict.test.ts proving it bites.
 *
 * `effect`: "refused" when AWS answers 400 (so does the proxy); "no-data" when AWS accepts the request
 * and documents that it returns nothing (the proxy forwards it, and still fails the test).
 */
import type { Issue } from "./issues.js";
import { pathOf } from "./wire.js";

export interface RuleContext {
  /** Epoch ms of the request (data-age rules). */
  readonly now: number;
}

export interface Finding {
  readonly path: string;
  readonly message: string;
  readonly value?: unknown;
}

export interface DocumentedRule {
  readonly id: string;
  /** botocore service directory (models.ts). */
  readonly service: string;
  readonly operations: readonly string[];
  /** The AWS documentation page the rule comes from. */
  readonly doc: string;
  /** What the page says, in short. */
  readonly says: string;
  readonly effect: Issue["effect"];
  check(input: Record<string, unknown>, ctx: RuleContext): Finding[];
}

type Json = Record<string, unknown>;

/** Every value at `path` ("*" walks a list or a map), with AWS's notation for where it is. */
export function at(input: unknown, path: readonly string[], where = ""): [string, unknown][] {
  if (path.length === 0) return input === undefined ? [] : [[where, input]];
  const [head, ...rest] = path;
  if (input === null || typeof input !== "object") return [];
  if (head === "*") {
    if (Array.isArray(input)) return input.flatMap((e, i) => at(e, rest, `${where}.${i + 1}.member`));
    return Object.entries(input as Json).flatMap(([k, e]) => at(e, rest, `${where}.${k}`));
  }
  return at((input as Json)[head!], rest, pathOf(where, head!));
}

const LEGAL_SUB_MINUTE_PERIODS = [1, 5, 10, 20, 30];
const legalPeriod = (p: number): boolean => LEGAL_SUB_MINUTE_PERIODS.includes(p) || p % 60 === 0;

const METRIC_STAT = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricStat.html";
const ELB_QUOTAS =
  "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html";
const DDB_CONSTRAINTS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html";
const FORWARD_ACTIONS = ["CreateRule", "ModifyRule", "CreateListener", "ModifyListener"];

function periods(input: Json): [string, number][] {
  return [
    ...at(input, ["MetricDataQueries", "*", "MetricStat", "Period"]),
    ...at(input, ["MetricDataQueries", "*", "Period"]),
    ...at(input, ["Period"]),
  ].filter((e): e is [string, number] => typeof e[1] === "number");
}

function forwardTargetGroups(input: Json): [string, unknown][] {
  return at(input, ["Actions", "*", "ForwardConfig", "TargetGroups"]).concat(
    at(input, ["DefaultActions", "*", "ForwardConfig", "TargetGroups"]),
  );
}

/** DynamoDB's item size: attribute names plus values, as its Constraints page counts them. */
export function dynamoSize(v: unknown): number {
  if (v === null || typeof v !== "object") return 0;
  const a = v as Json;
  if (typeof a.S === "string") return Buffer.byteLength(a.S);
  if (typeof a.N === "string") return Math.ceil(a.N.replace(/^-|\.|e.*$/gi, "").length / 2) + 1;
  if (a.B !== undefined) return Buffer.isBuffer(a.B) ? a.B.length : String(a.B).length;
  if (a.BOOL !== undefined || a.NULL !== undefined) return 1;
  if (Array.isArray(a.SS)) return a.SS.reduce((n: number, s: string) => n + Buffer.byteLength(s), 0);
  if (Array.isArray(a.NS)) return a.NS.reduce((n: number, s: string) => n + s.length / 2 + 1, 0);
  if (Array.isArray(a.BS))
    return a.BS.reduce((n: number, b: unknown) => n + (Buffer.isBuffer(b) ? b.length : 0), 0);
  if (Array.isArray(a.L)) return 3 + a.L.reduce((n: number, e: unknown) => n + 1 + dynamoSize(e), 0);
  if (a.M && typeof a.M === "object") {
    return (
      3 + Object.entries(a.M as Json).reduce((n, [k, e]) => n + 1 + Buffer.byteLength(k) + dynamoSize(e), 0)
    );
  }
  return 0;
}

const DDB_EXPRESSIONS = [
  "UpdateExpression",
  "ConditionExpression",
  "ProjectionExpression",
  "KeyConditionExpression",
  "FilterExpression",
] as const;

export const RULES: readonly DocumentedRule[] = [
  // ── CloudWatch ────────────────────────────────────────────────────────────────────────────────
  {
    id: "cloudwatch.period",
    service: "cloudwatch",
    operations: ["GetMetricData", "GetMetricStatistics"],
    doc: METRIC_STAT,
    says: "For metrics with regular resolution, a period can be as short as one minute (60 seconds) and must be a multiple of 60. For high-resolution metrics … the period can be 1, 5, 10, 20, 30, 60, or any multiple of 60.",
    effect: "refused",
    check: (input) =>
      periods(input)
        .filter(([, p]) => !legalPeriod(p))
        .map(([path, p]) => ({
          path,
          value: p,
          message: `a period must be 1, 5, 10, 20, 30 or a multiple of 60 seconds, not ${p}`,
        })),
  },
  {
    id: "cloudwatch.high-resolution-age",
    service: "cloudwatch",
    operations: ["GetMetricData", "GetMetricStatistics"],
    doc: METRIC_STAT,
    says: "If the StartTime parameter specifies a time stamp that is greater than 3 hours ago, you must specify the period as follows or no data points in that time range is returned: 3 hours to 15 days ago, a multiple of 60; 15 to 63 days, of 300; more than 63 days, of 3600.",
    effect: "no-data",
    check: (input, ctx) => {
      const start = input.StartTime instanceof Date ? input.StartTime.getTime() : null;
      if (start === null) return [];
      const age = ctx.now - start;
      const H = 3_600_000;
      const step = age > 63 * 24 * H ? 3600 : age > 15 * 24 * H ? 300 : age > 3 * H ? 60 : 1;
      if (step === 1) return [];
      return periods(input)
        .filter(([, p]) => p % step !== 0)
        .map(([path, p]) => ({
          path,
          value: p,
          message: `StartTime is ${(age / H).toFixed(1)} h ago: only periods that are a multiple of ${step} s return data`,
        }));
    },
  },
  {
    id: "cloudwatch.queries-per-call",
    service: "cloudwatch",
    operations: ["GetMetricData"],
    doc: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html",
    says: "A single GetMetricData call can include as many as 500 MetricDataQuery structures.",
    effect: "refused",
    check: (input) => {
      const n = Array.isArray(input.MetricDataQueries) ? input.MetricDataQueries.length : 0;
      return n > 500
        ? [{ path: "metricDataQueries", value: n, message: `${n} queries; at most 500 per call` }]
        : [];
    },
  },
  {
    id: "cloudwatch.query-ids",
    service: "cloudwatch",
    operations: ["GetMetricData"],
    doc: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html",
    says: "This name must be unique within a single call to GetMetricData … The valid characters are letters, numbers, and underscore. The first character must be a lowercase letter.",
    effect: "refused",
    check: (input) => {
      const seen = new Set<string>();
      const out: Finding[] = [];
      for (const [path, id] of at(input, ["MetricDataQueries", "*", "Id"])) {
        if (typeof id !== "string") continue;
        if (!/^[a-z][A-Za-z0-9_]*$/.test(id)) {
          out.push({
            path,
            value: id,
            message: "an Id starts with a lower-case letter, then letters, digits, _",
          });
        }
        if (seen.has(id)) out.push({ path, value: id, message: `Id ${id} is used twice in one call` });
        seen.add(id);
      }
      return out;
    },
  },
  {
    id: "cloudwatch.put-metric-data",
    service: "cloudwatch",
    operations: ["PutMetricData"],
    doc: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html",
    says: "The array can include no more than 1000 metrics per call … You can include up to 150 unique values in each PutMetricData action that specifies a Values array … StorageResolution: valid values are 1 and 60.",
    effect: "refused",
    check: (input) => {
      const out: Finding[] = [];
      const data = Array.isArray(input.MetricData) ? input.MetricData : [];
      if (data.length > 1000)
        out.push({ path: "metricData", value: data.length, message: "at most 1000 metrics" });
      for (const [path, values] of at(input, ["MetricData", "*", "Values"])) {
        if (Array.isArray(values) && values.length > 150) {
          out.push({ path, value: values.length, message: "at most 150 values per metric" });
        }
      }
      for (const [path, r] of at(input, ["MetricData", "*", "StorageResolution"])) {
        if (r !== 1 && r !== 60) out.push({ path, value: r, message: "StorageResolution must be 1 or 60" });
      }
      return out;
    },
  },
  {
    id: "cloudwatch.reserved-namespace",
    service: "cloudwatch",
    operations: ["PutMetricData"],
    doc: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html",
    says: "Namespace: To avoid conflicts with Amazon Web Services service namespaces, you should not specify a namespace that begins with AWS/",
    effect: "refused",
    check: (input) =>
      typeof input.Namespace === "string" && input.Namespace.startsWith("AWS/")
        ? [
            {
              path: "namespace",
              value: input.Namespace,
              message: "namespaces that begin with AWS/ are AWS's own",
            },
          ]
        : [],
  },

  // ── Elastic Load Balancing v2 ───────────────────────────────────────────────────────────────────
  {
    id: "elbv2.forward-weight",
    service: "elbv2",
    operations: FORWARD_ACTIONS,
    doc: "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroupTuple.html",
    says: "Weight: The weight. The range is 0 to 999.",
    effect: "refused",
    check: (input) =>
      forwardTargetGroups(input).flatMap(([path, groups]) =>
        at(groups, ["*", "Weight"], path)
          .filter(([, w]) => typeof w !== "number" || w < 0 || w > 999 || !Number.isInteger(w))
          .map(([p, w]) => ({ path: p, value: w, message: "Member must have value between 0 and 999" })),
      ),
  },
  {
    id: "elbv2.stickiness-duration",
    service: "elbv2",
    operations: FORWARD_ACTIONS,
    doc: "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroupStickinessConfig.html",
    says: "DurationSeconds: The range is 1-604800 seconds (7 days). You must specify this value when enabling target group stickiness.",
    effect: "refused",
    check: (input) => {
      const out: Finding[] = [];
      for (const list of ["Actions", "DefaultActions"]) {
        for (const [path, cfg] of at(input, [list, "*", "ForwardConfig", "TargetGroupStickinessConfig"])) {
          const c = cfg as Json;
          const d = c.DurationSeconds;
          if (d !== undefined && (typeof d !== "number" || d < 1 || d > 604_800)) {
            out.push({ path: `${path}.durationSeconds`, value: d, message: "the range is 1-604800 seconds" });
          }
          if (c.Enabled === true && d === undefined) {
            out.push({ path: `${path}.durationSeconds`, message: "required when stickiness is enabled" });
          }
        }
      }
      return out;
    },
  },
  {
    id: "elbv2.target-groups-per-action",
    service: "elbv2",
    operations: FORWARD_ACTIONS,
    doc: ELB_QUOTAS,
    says: "Target Groups per Action per Application Load Balancer: 5 (not adjustable).",
    effect: "refused",
    check: (input) =>
      forwardTargetGroups(input)
        .filter(([, g]) => Array.isArray(g) && g.length > 5)
        .map(([path, g]) => ({
          path,
          value: (g as unknown[]).length,
          message: "at most 5 target groups per action",
        })),
  },
  {
    id: "elbv2.rule-conditions",
    service: "elbv2",
    operations: ["CreateRule", "ModifyRule"],
    doc: "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html",
    says: "Each rule can optionally include up to one of each of the following conditions: host-header, http-request-method, path-pattern, and source-ip … (quotas page: condition values per rule 5, condition wildcards per rule 5); each value up to 128 characters; the value for a condition can't be empty.",
    effect: "refused",
    check: (input) => {
      const conditions = Array.isArray(input.Conditions) ? (input.Conditions as Json[]) : null;
      if (conditions === null) return [];
      const out: Finding[] = [];
      const fields = new Map<string, number>();
      let values = 0;
      let wildcards = 0;
      conditions.forEach((c, i) => {
        const where = `conditions.${i + 1}.member`;
        const field = String(c.Field ?? "");
        const known = [
          "http-header",
          "http-request-method",
          "host-header",
          "path-pattern",
          "query-string",
          "source-ip",
        ];
        if (!known.includes(field)) {
          out.push({
            path: `${where}.field`,
            value: field,
            message: `Field must be one of ${known.join(", ")}`,
          });
        }
        fields.set(field, (fields.get(field) ?? 0) + 1);
        const vals: string[] = [];
        const push = (v: unknown) => {
          if (Array.isArray(v)) for (const s of v) vals.push(String(s));
        };
        push(c.Values);
        for (const cfg of [
          "HostHeaderConfig",
          "PathPatternConfig",
          "HttpHeaderConfig",
          "HttpRequestMethodConfig",
          "SourceIpConfig",
        ]) {
          push((c[cfg] as Json | undefined)?.Values);
          push((c[cfg] as Json | undefined)?.RegexValues);
        }
        for (const kv of ((c.QueryStringConfig as Json | undefined)?.Values as Json[] | undefined) ?? []) {
          vals.push(`${String(kv.Key ?? "")}=${String(kv.Value ?? "")}`);
        }
        if (vals.length === 0) out.push({ path: where, message: "the value for a condition can't be empty" });
        for (const v of vals) {
          if (v.length > 128)
            out.push({ path: where, value: v, message: "a condition value is at most 128 characters" });
          wildcards += (v.match(/[*?]/g) ?? []).length;
        }
        values += vals.length;
      });
      for (const f of ["host-header", "http-request-method", "path-pattern", "source-ip"]) {
        if ((fields.get(f) ?? 0) > 1)
          out.push({ path: "conditions", value: f, message: `at most one ${f} condition per rule` });
      }
      if (values > 5)
        out.push({ path: "conditions", value: values, message: "at most 5 condition values per rule" });
      if (wildcards > 5)
        out.push({ path: "conditions", value: wildcards, message: "at most 5 wildcards per rule" });
      return out;
    },
  },

  // ── Auto Scaling ──────────────────────────────────────────────────────────────────────────────
  {
    id: "autoscaling.refresh-preferences",
    service: "autoscaling",
    operations: ["StartInstanceRefresh"],
    doc: "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html",
    says: "MinHealthyPercentage: value range is 0 to 100. MaxHealthyPercentage: value range is 100 to 200. If you specify MaxHealthyPercentage, you must also specify MinHealthyPercentage, and the difference between them cannot be greater than 100. CheckpointPercentages: in ascending order, each number unique. AlarmSpecification: you can specify up to 10 alarms. AutoRollback is not supported when there is no desired configuration, or with $Latest/$Default.",
    effect: "refused",
    check: (input) => {
      const p = (input.Preferences ?? {}) as Json;
      const out: Finding[] = [];
      const min = p.MinHealthyPercentage;
      const max = p.MaxHealthyPercentage;
      if (typeof min === "number" && (min < 0 || min > 100)) {
        out.push({ path: "preferences.minHealthyPercentage", value: min, message: "the range is 0 to 100" });
      }
      if (typeof max === "number") {
        if (max < 100 || max > 200) {
          out.push({
            path: "preferences.maxHealthyPercentage",
            value: max,
            message: "the range is 100 to 200",
          });
        }
        if (typeof min !== "number") {
          out.push({
            path: "preferences.minHealthyPercentage",
            message: "required with MaxHealthyPercentage",
          });
        } else if (max - min > 100) {
          out.push({
            path: "preferences.maxHealthyPercentage",
            value: max,
            message: `MaxHealthyPercentage - MinHealthyPercentage = ${max - min}; at most 100`,
          });
        }
      }
      const alarms = (p.AlarmSpecification as Json | undefined)?.Alarms;
      if (Array.isArray(alarms) && alarms.length > 10) {
        out.push({
          path: "preferences.alarmSpecification.alarms",
          value: alarms.length,
          message: "up to 10 alarms",
        });
      }
      const cps = p.CheckpointPercentages;
      if (Array.isArray(cps) && cps.some((c, i) => i > 0 && !(Number(c) > Number(cps[i - 1])))) {
        out.push({ path: "preferences.checkpointPercentages", value: cps, message: "ascending and unique" });
      }
      if (p.AutoRollback === true) {
        const lt = ((input.DesiredConfiguration ?? {}) as Json).LaunchTemplate as Json | undefined;
        if (input.DesiredConfiguration === undefined) {
          out.push({ path: "preferences.autoRollback", message: "needs a DesiredConfiguration" });
        } else if (
          lt &&
          (lt.Version === "$Latest" || lt.Version === "$Default" || lt.Version === undefined)
        ) {
          out.push({
            path: "desiredConfiguration.launchTemplate.version",
            value: lt.Version ?? null,
            message: "AutoRollback needs a numbered launch template version",
          });
        }
      }
      return out;
    },
  },

  {
    // Issue 17: promotion's refresh carries --refresh-checkpoints/--refresh-checkpoint-delay.
    id: "autoscaling.refresh-checkpoint-delay",
    service: "autoscaling",
    operations: ["StartInstanceRefresh"],
    doc: "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html",
    says: "CheckpointDelay: This property is optional, but if you specify a value for it, you must also specify a value for CheckpointPercentages.",
    effect: "refused",
    check: (input) => {
      const p = (input.Preferences ?? {}) as Json;
      const cps = p.CheckpointPercentages;
      return p.CheckpointDelay !== undefined && !(Array.isArray(cps) && cps.length > 0)
        ? [
            {
              path: "preferences.checkpointDelay",
              value: p.CheckpointDelay,
              message: "needs CheckpointPercentages",
            },
          ]
        : [];
    },
  },

  // ── EC2 ───────────────────────────────────────────────────────────────────────────────────────
  {
    id: "ec2.user-data-size",
    service: "ec2",
    operations: ["CreateLaunchTemplate", "CreateLaunchTemplateVersion", "RunInstances"],
    doc: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RequestLaunchTemplateData.html",
    says: "UserData: You must provide base64-encoded text. User data is limited to 16 KB.",
    effect: "refused",
    check: (input) =>
      [...at(input, ["LaunchTemplateData", "UserData"]), ...at(input, ["UserData"])].flatMap(([path, v]) => {
        const s = String(v);
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) {
          return [{ path, value: s, message: "user data must be base64-encoded text" }];
        }
        return s.length > 16_384
          ? [
              {
                path,
                value: `<${s.length} base64 characters>`,
                message: "user data is limited to 16 KB (16384 base64 characters)",
              },
            ]
          : [];
      }),
  },

  // ── DynamoDB ──────────────────────────────────────────────────────────────────────────────────
  {
    id: "dynamodb.attribute-value",
    service: "dynamodb",
    operations: ["PutItem", "UpdateItem", "DeleteItem", "GetItem", "Query", "Scan"],
    doc: "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_AttributeValue.html",
    says: "Each attribute value is described as a name-value pair … one data type, and the value itself.",
    effect: "refused",
    check: (input) => {
      const out: Finding[] = [];
      const visit = (v: unknown, path: string): void => {
        if (v === null || typeof v !== "object") return;
        const keys = Object.keys(v as Json).filter((k) => (v as Json)[k] !== undefined);
        if (keys.length !== 1) {
          out.push({ path, value: keys, message: "an AttributeValue holds exactly one data type" });
          return;
        }
        const a = v as Json;
        if (Array.isArray(a.L)) {
          a.L.forEach((e, i) => {
            visit(e, `${path}.l.${i + 1}.member`);
          });
        }
        if (a.M && typeof a.M === "object")
          for (const [k, e] of Object.entries(a.M as Json)) visit(e, `${path}.m.${k}`);
      };
      for (const top of ["Item", "Key", "ExpressionAttributeValues", "ExclusiveStartKey"]) {
        for (const [path, v] of at(input, [top, "*"])) visit(v, path);
      }
      return out;
    },
  },
  {
    id: "dynamodb.item-size",
    service: "dynamodb",
    operations: ["PutItem", "UpdateItem"],
    doc: `${DDB_CONSTRAINTS}#limits-items`,
    says: "The maximum item size in DynamoDB is 400 KB, which includes both attribute name binary length (UTF-8 length) and attribute value lengths (again binary length).",
    effect: "refused",
    check: (input) => {
      const sum = (m: unknown): number =>
        m && typeof m === "object"
          ? Object.entries(m as Json).reduce((n, [k, v]) => n + Buffer.byteLength(k) + dynamoSize(v), 0)
          : 0;
      // UpdateItem: the new values alone must fit; what the item already holds is not known here.
      const size = sum(input.Item) + sum(input.Key) + sum(input.ExpressionAttributeValues);
      return size > 400 * 1024
        ? [
            {
              path: input.Item ? "item" : "expressionAttributeValues",
              value: size,
              message: "Item size has exceeded the maximum allowed size (400 KB)",
            },
          ]
        : [];
    },
  },
  {
    id: "dynamodb.expressions",
    service: "dynamodb",
    operations: ["PutItem", "UpdateItem", "DeleteItem", "GetItem", "Query", "Scan"],
    doc: `${DDB_CONSTRAINTS}#limits-expression-parameters`,
    says: "The maximum length of any expression string is 4 KB. Expression attribute names begin with #, values with :; every name and value supplied must be used in an expression (otherwise ValidationException: Value provided in ExpressionAttributeValues unused in expressions), and every placeholder used must be supplied.",
    effect: "refused",
    check: (input) => {
      const out: Finding[] = [];
      const exprs = DDB_EXPRESSIONS.map((k) => [k, input[k]] as const).filter(
        (e): e is readonly [(typeof DDB_EXPRESSIONS)[number], string] => typeof e[1] === "string",
      );
      const text = exprs.map(([, e]) => e).join(" ");
      for (const [k, e] of exprs) {
        if (Buffer.byteLength(e) > 4096)
          out.push({ path: pathOf("", k), value: e.length, message: "at most 4 KB" });
      }
      const names = (input.ExpressionAttributeNames ?? {}) as Json;
      const values = (input.ExpressionAttributeValues ?? {}) as Json;
      if (exprs.length === 0 && (Object.keys(names).length > 0 || Object.keys(values).length > 0)) {
        out.push({
          path: "expressionAttributeNames",
          message: "can only be specified when using expressions",
        });
      }
      const used = (prefix: string) => new Set(text.match(new RegExp(`${prefix}[A-Za-z0-9_]+`, "g")) ?? []);
      for (const [prefix, map, what] of [
        ["#", names, "expressionAttributeNames"],
        [":", values, "expressionAttributeValues"],
      ] as const) {
        const inText = used(prefix);
        for (const k of Object.keys(map)) {
          if (!k.startsWith(prefix))
            out.push({ path: `${what}.${k}`, value: k, message: `a placeholder starts with ${prefix}` });
          else if (!inText.has(k))
            out.push({ path: `${what}.${k}`, value: k, message: "provided but unused in expressions" });
        }
        for (const k of inText) {
          if (!(k in map))
            out.push({ path: what, value: k, message: `${k} is used in an expression but not defined` });
        }
      }
      return out;
    },
  },

  // ── Lambda (the guard; later issues invoke it) ───────────────────────────────────────────────
  {
    id: "lambda.invoke-payload",
    service: "lambda",
    operations: ["Invoke"],
    doc: "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
    says: "Invocation payload (request and response): 6 MB each for synchronous invocations.",
    effect: "refused",
    check: (input) => {
      const p = input.Payload;
      const n = Buffer.isBuffer(p) ? p.length : typeof p === "string" ? Buffer.byteLength(p) : 0;
      const sync = input.InvocationType === undefined || input.InvocationType === "RequestResponse";
      return sync && n > 6 * 1024 * 1024
        ? [{ path: "payload", value: n, message: "at most 6 MB synchronously" }]
        : [];
    },
  },
];

/** The documented rules' findings for one request, as issues. */
export function applyRules(
  service: string,
  operation: string,
  input: unknown,
  ctx: RuleContext,
  rules: readonly DocumentedRule[] = RULES,
): Issue[] {
  if (input === null || typeof input !== "object") return [];
  return rules
    .filter((r) => r.service === service && r.operations.includes(operation))
    .flatMap((r) =>
      r.check(input as Json, ctx).map(
        (f): Issue => ({
          path: f.path,
          kind: "rule",
          message: f.message,
          value: f.value,
          rule: r.id,
          doc: r.doc,
          effect: r.effect,
        }),
      ),
    );
}
