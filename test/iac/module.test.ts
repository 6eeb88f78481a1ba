// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${…}" here are HCL expressions, compared as written.
/**
 * Structural tests of the Terraform module and its example, on the real HCL parse of every .tf file
 * (`terraform validate` cannot run here: no provider can be downloaded). They pin down what keeps
 * canaries safe: what the pipeline moves is ignored by Terraform, gray starts empty and at weight 0,
 * the state table has the tool's schema, and the outputs are the tool's configuration.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { OPTION_DEFS, type OptionDef, type OptionName, SCHEMA } from "../../src/app/schema.js";
import {
  type Body,
  block,
  blocks,
  dynamicBlocks,
  EXAMPLE_DIR,
  ignoreChanges,
  loadTerraformDir,
  MODULE_DIR,
  raw,
  type TerraformDir,
} from "./hcl.js";

let mod: TerraformDir;
let example: TerraformDir;

beforeAll(async () => {
  mod = await loadTerraformDir(MODULE_DIR);
  example = await loadTerraformDir(EXAMPLE_DIR);
});

const resource = (key: string): Body => {
  const r = mod.resources[key];
  if (r === undefined) throw new Error(`the module has no resource ${key}`);
  return r;
};

describe("layout", () => {
  it("is a standard module: main.tf, variables.tf, outputs.tf, versions.tf, README.md; and an example", () => {
    for (const f of ["main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"]) {
      expect(existsSync(join(MODULE_DIR, f)), f).toBe(true);
    }
    for (const f of ["main.tf", "versions.tf", "README.md"])
      expect(existsSync(join(EXAMPLE_DIR, f)), f).toBe(true);
    // Variables and outputs live where a reader looks for them.
    for (const [file, parsed] of Object.entries(mod.files)) {
      if (file !== "variables.tf") expect(parsed.variable, `${file} declares variables`).toBeUndefined();
      if (file !== "outputs.tf") expect(parsed.output, `${file} declares outputs`).toBeUndefined();
    }
  });

  it.each([
    ["module", () => mod],
    ["example", () => example],
  ])("%s pins Terraform >= 1.5 and the AWS provider's major version", (_, dir) => {
    const tf = dir().terraform;
    expect(tf).toHaveLength(1);
    expect(tf[0]!.required_version).toBe(">= 1.5.0");
    const providers = block(tf[0]!, "required_providers") as Record<
      string,
      { source: string; version: string }
    >;
    expect(providers.aws?.source).toBe("hashicorp/aws");
    expect(providers.aws?.version, "a ~> MAJOR.0 constraint pins one major version").toMatch(
      /^~> [1-9]\d*\.0$/,
    );
    expect(providers.random?.version).toMatch(/^~> \d+\.\d+$/);
  });

  it("the example uses the same provider major version as the module", () => {
    const major = (d: TerraformDir) =>
      (block(d.terraform[0]!, "required_providers") as Record<string, { version: string }>).aws?.version;
    expect(major(example)).toBe(major(mod));
  });
});

/** Full-line comments removed: what Terraform evaluates, strings included. */
const code = (d: TerraformDir) =>
  Object.values(d.sources)
    .map((s) =>
      s
        .split("\n")
        .filter((l) => !/^\s*(#|\/\/)/.test(l))
        .join("\n"),
    )
    .join("\n");

describe("references (the part of `terraform validate` that needs no provider)", () => {
  it.each([
    ["module", () => mod],
    ["example", () => example],
  ])("every var., local., resource, data source and module the %s refers to is declared", (_, get) => {
    const d = get();
    const text = code(d);
    const undeclared: string[] = [];
    for (const m of text.matchAll(/\bvar\.([a-z_][a-z0-9_]*)/g))
      if (!(m[1]! in d.variables)) undeclared.push(m[0]);
    for (const m of text.matchAll(/\blocal\.([a-z_][a-z0-9_]*)/g))
      if (!(m[1]! in d.locals)) undeclared.push(m[0]);
    for (const m of text.matchAll(/\bdata\.([a-z][a-z0-9_]*)\.([a-z_][a-z0-9_]*)/g)) {
      if (!(`${m[1]}.${m[2]}` in d.data)) undeclared.push(m[0]);
    }
    for (const m of text.matchAll(/(?<![.\w"])((?:aws|random)_[a-z0-9_]+)\.([a-z_][a-z0-9_]*)\b/g)) {
      if (!(`${m[1]}.${m[2]}` in d.resources)) undeclared.push(m[0]);
    }
    for (const m of text.matchAll(/\bmodule\.([a-z_][a-z0-9_]*)/g))
      if (!(m[1]! in d.modules)) undeclared.push(m[0]);
    expect([...new Set(undeclared)]).toEqual([]);
  });

  it("every variable and every local of the module is used", () => {
    const text = code(mod);
    for (const v of Object.keys(mod.variables))
      expect(text, `var.${v}`).toMatch(new RegExp(`\\bvar\\.${v}\\b`));
    for (const l of Object.keys(mod.locals))
      expect(text, `local.${l}`).toMatch(new RegExp(`\\blocal\\.${l}\\b`));
  });

  it("count/for_each never depend on values known only after apply (resources of this module)", () => {
    for (const [key, r] of [...Object.entries(mod.resources), ...Object.entries(mod.data)]) {
      for (const meta of ["count", "for_each"]) {
        if (r[meta] === undefined) continue;
        const expr = raw(r[meta]);
        // Only inputs, locals derived from inputs, and data sources read at plan time.
        expect(expr, `${key}.${meta}`).not.toMatch(
          /(?<![.\w])(aws|random)_[a-z0-9_]+\.[a-z_]+\.(arn|id|name)\b/,
        );
      }
    }
  });
});

describe("variables and outputs", () => {
  it("every variable has a description and a type", () => {
    expect(Object.keys(mod.variables).length).toBeGreaterThan(20);
    for (const [name, v] of Object.entries(mod.variables)) {
      expect(typeof v.description === "string" && v.description.length >= 20, `${name}: description`).toBe(
        true,
      );
      expect(typeof v.type === "string" && raw(v.type).length > 0, `${name}: type`).toBe(true);
    }
    for (const [name, v] of Object.entries(example.variables)) {
      expect(
        typeof v.description === "string" && v.description.length > 0,
        `example ${name}: description`,
      ).toBe(true);
    }
  });

  it("validates every input that has a shape (ARNs, names, numbers with bounds)", () => {
    const mustValidate = [
      "name",
      "listener_arn",
      "stable_target_group_arn",
      "stable_asg_name",
      "launch_template_id",
      "launch_template_version",
      "instance_role_arn",
      "gray_target_group",
      "gray_asg_name",
      "gray_max_size",
      "subnet_ids",
      "health_check_grace_period",
      "rule_priority",
      "rule_conditions",
      "stickiness_duration_seconds",
      "smoke_rule_priority",
      "smoke_header_name",
      "smoke_source_cidrs",
      "pilot_rule_priority",
      "pilot_header_name",
      "pilot_header_values",
      "hook_function_name_prefix",
      "error_rate_threshold_percent",
      "p99_threshold_seconds",
      "unhealthy_hosts_threshold",
      "rollback_window_minutes",
      "state_table_name",
      "ecr_repository_arn",
      "guard_max_pause",
      "guard_schedule_expression",
    ];
    for (const name of mustValidate) {
      const v = mod.variables[name];
      expect(v, name).toBeDefined();
      const validations = blocks(v!, "validation");
      expect(validations.length, `${name}: validation block`).toBeGreaterThan(0);
      for (const val of validations) {
        expect(raw(val.condition), `${name}: condition refers to the variable`).toContain(`var.${name}`);
        expect(String(val.error_message).length, `${name}: error message`).toBeGreaterThan(10);
      }
    }
    // Nullable inputs guard their checks: `||` does not short-circuit in Terraform.
    for (const [name, v] of Object.entries(mod.variables)) {
      for (const val of blocks(v, "validation")) {
        expect(raw(val.condition), `${name}`).not.toMatch(new RegExp(`var\\.${name} == null \\|\\|`));
      }
    }
  });

  it("validations accept the defaults and reject what AWS would reject (checked on the patterns)", () => {
    const pattern = (name: string) => {
      const cond = raw(block(mod.variables[name]!, "validation").condition);
      const m = /regex\("((?:[^"\\]|\\.)*)"/.exec(cond);
      if (!m) throw new Error(`${name}: no regex`);
      // HCL string escapes → the RE2 pattern Terraform sees (RE2 and JS agree on these).
      return new RegExp(JSON.parse(`"${m[1]}"`) as string);
    };
    const listener = pattern("listener_arn");
    expect(
      listener.test(
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/app/alb/0123456789abcdef/fedcba9876543210",
      ),
    ).toBe(true);
    expect(
      listener.test(
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/net/nlb/0123456789abcdef/fedcba9876543210",
      ),
    ).toBe(false);
    expect(listener.test(OPTION_DEFS.listenerArn.pattern.hint)).toBe(false);
    const tg = pattern("stable_target_group_arn");
    expect(
      tg.test(
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:targetgroup/gatewaypix-v1/0123456789abcdef",
      ),
    ).toBe(true);
    expect(
      tg.test("arn:aws:elasticloadbalancing:sa-east-1:123456789012:loadbalancer/app/x/0123456789abcdef"),
    ).toBe(false);
    const version = pattern("launch_template_version");
    expect(version.test("12")).toBe(true);
    expect(version.test("$Latest")).toBe(false);
    expect(version.test("$Default")).toBe(false);
    const name = pattern("name");
    expect(name.test("gatewaypix")).toBe(true);
    expect(name.test("a".repeat(27))).toBe(true);
    expect(name.test("a".repeat(28)), "<name>-gray must fit the 32-character target group limit").toBe(false);
    expect(name.test("-x")).toBe(false);
    const pause = pattern("guard_max_pause");
    expect(pause.test(String(mod.variables.guard_max_pause!.default))).toBe(true);
    expect(pause.test("1h30m")).toBe(true);
    expect(pause.test("60")).toBe(false);
  });

  it("every output has a description", () => {
    for (const [name, o] of Object.entries(mod.outputs)) {
      expect(typeof o.description === "string" && o.description.length >= 10, `${name}: description`).toBe(
        true,
      );
    }
  });

  it("only the variables the module cannot guess are required", () => {
    const required = Object.entries(mod.variables)
      .filter(([, v]) => !("default" in v))
      .map(([n]) => n)
      .sort();
    expect(required).toEqual([
      "listener_arn",
      "name",
      "rule_priority",
      "stable_asg_name",
      "stable_target_group_arn",
    ]);
  });
});

describe("gray target group", () => {
  it("mirrors the stable target group through a data source on its ARN, each attribute overridable", () => {
    expect(raw(mod.data["aws_lb_target_group.stable"]?.arn)).toBe("var.stable_target_group_arn");
    const tg = resource("aws_lb_target_group.gray");
    expect(raw(tg.vpc_id)).toBe("data.aws_lb_target_group.stable.vpc_id");
    expect(raw(tg.target_type)).toBe("instance");
    expect(raw(tg.port)).toBe("coalesce(var.gray_target_group.port, data.aws_lb_target_group.stable.port)");
    expect(raw(tg.protocol)).toBe(
      "coalesce(var.gray_target_group.protocol, data.aws_lb_target_group.stable.protocol)",
    );
    expect(raw(tg.deregistration_delay)).toBe(
      "coalesce(var.gray_target_group.deregistration_delay, tonumber(data.aws_lb_target_group.stable.deregistration_delay))",
    );
    expect(raw(mod.locals.stable_health_check)).toBe("data.aws_lb_target_group.stable.health_check[0]");
    const hc = block(tg, "health_check");
    for (const attr of [
      "path",
      "port",
      "protocol",
      "matcher",
      "interval",
      "timeout",
      "healthy_threshold",
      "unhealthy_threshold",
    ]) {
      expect(raw(hc[attr]), `health_check.${attr}`).toBe(
        `coalesce(local.gray_health_check.${attr}, local.stable_health_check.${attr})`,
      );
    }
    expect(raw(mod.locals.gray_health_check)).toBe("var.gray_target_group.health_check");
  });
});

describe("gray Auto Scaling group", () => {
  it("starts empty (min 0, desired 0), may grow to the stable group's maximum, and serves the gray target group", () => {
    const asg = resource("aws_autoscaling_group.gray");
    expect(asg.min_size).toBe(0);
    expect(asg.desired_capacity).toBe(0);
    expect(raw(asg.max_size)).toBe("local.gray_max_size");
    expect(raw(mod.locals.gray_max_size)).toBe(
      "coalesce(var.gray_max_size, data.aws_autoscaling_group.stable.max_size)",
    );
    expect(asg.target_group_arns).toEqual(["${aws_lb_target_group.gray.arn}"]);
    expect(raw(asg.health_check_type)).toBe("ELB");
    const lt = block(asg, "launch_template");
    expect(raw(lt.id)).toBe("local.launch_template_id");
    expect(raw(lt.version)).toBe("local.launch_template_version");
    expect(raw(mod.data["aws_autoscaling_group.stable"]?.name)).toBe("var.stable_asg_name");
  });

  it("ignores the desired capacity and the launch template version, which the pipeline moves", () => {
    const ignored = ignoreChanges(resource("aws_autoscaling_group.gray"));
    expect(ignored).toEqual(expect.arrayContaining(["desired_capacity", "launch_template[0].version"]));
  });

  it("refuses a launch template version that floats ($Latest/$Default)", () => {
    const preconditions = blocks(block(resource("aws_autoscaling_group.gray"), "lifecycle"), "precondition");
    expect(preconditions.map((p) => raw(p.condition))).toContain(
      'can(regex("^[0-9]+$", local.launch_template_version))',
    );
  });

  it("is tagged as gray, and so are its instances", () => {
    const [tag] = dynamicBlocks(resource("aws_autoscaling_group.gray"), "tag");
    expect(raw(tag!.for_each)).toContain('"gray-deploy:role" = "gray"');
    const content = block(tag!, "content");
    expect(content.propagate_at_launch).toBe(true);
  });
});

describe("weighted listener rule", () => {
  it("forwards stable 100 / gray 0 at creation, on a rule of its own on the given listener", () => {
    const rule = resource("aws_lb_listener_rule.weighted");
    expect(raw(rule.listener_arn)).toBe("var.listener_arn");
    expect(raw(rule.priority)).toBe("var.rule_priority");
    const action = block(rule, "action");
    expect(action.type).toBe("forward");
    const groups = blocks(block(action, "forward"), "target_group").map((g) => [raw(g.arn), g.weight]);
    expect(groups).toEqual([
      ["var.stable_target_group_arn", 100],
      ["aws_lb_target_group.gray.arn", 0],
    ]);
    expect(mod.resources["aws_lb_listener.this"], "the listener belongs to another module").toBeUndefined();
  });

  it("ignores changes to its action: terraform apply never reverts the weights a rollout moved", () => {
    expect(ignoreChanges(resource("aws_lb_listener_rule.weighted"))).toEqual(["action"]);
  });

  it("has optional group stickiness and variable conditions defaulting to every path", () => {
    const forward = block(block(resource("aws_lb_listener_rule.weighted"), "action"), "forward");
    const [stickiness] = dynamicBlocks(forward, "stickiness");
    expect(raw(stickiness!.for_each)).toBe(
      "var.stickiness_duration_seconds > 0 ? [var.stickiness_duration_seconds] : []",
    );
    expect(mod.variables.stickiness_duration_seconds!.default).toBe(0);
    const conditions = dynamicBlocks(resource("aws_lb_listener_rule.weighted"), "condition");
    expect(conditions.map((c) => raw(c.for_each)).join(" ")).toMatch(
      /var\.rule_conditions\.path_patterns.*var\.rule_conditions\.host_headers.*var\.rule_conditions\.http_headers.*var\.rule_conditions\.source_ips/,
    );
    expect(raw(mod.variables.rule_conditions!.type)).toContain(
      'path_patterns = optional(list(string), ["/*"])',
    );
  });
});

describe("smoke-test rule", () => {
  it("is optional and sends the secret header (and/or allowed CIDRs) straight to gray, ahead of the weighted rule", () => {
    const smoke = resource("aws_lb_listener_rule.smoke");
    expect(raw(smoke.count)).toBe("var.enable_smoke_rule ? 1 : 0");
    expect(mod.variables.enable_smoke_rule!.default).toBe(false);
    expect(raw(block(smoke, "action").target_group_arn)).toBe("aws_lb_target_group.gray.arn");
    const conditions = dynamicBlocks(smoke, "condition");
    const header = block(block(conditions[0]!, "content"), "http_header");
    expect(header.values).toEqual(["${random_password.smoke_header[0].result}"]);
    expect(raw(block(block(conditions[1]!, "content"), "source_ip").values)).toBe("condition.value");
    const preconditions = blocks(block(smoke, "lifecycle"), "precondition").map((p) => raw(p.condition));
    expect(preconditions).toContain(
      "var.smoke_rule_priority == null ? false : var.smoke_rule_priority < var.rule_priority",
    );
    expect(preconditions).toContain("var.smoke_secret_header || length(var.smoke_source_cidrs) > 0");
  });

  it("generates the secret without ALB wildcard characters and keeps it as an SSM SecureString", () => {
    const password = resource("random_password.smoke_header");
    expect(password.special).toBe(false);
    expect(password.length).toBeGreaterThanOrEqual(32);
    const param = resource("aws_ssm_parameter.smoke_header");
    expect(param.type).toBe("SecureString");
    expect(raw(param.value)).toBe("random_password.smoke_header[0].result");
  });
});

describe("rollout state table", () => {
  it("has the schema gray-deploy bootstrap creates: partition key scope (S), no sort key, on demand, PITR, TTL on expiresAt", () => {
    const table = resource("aws_dynamodb_table.state");
    expect(table.hash_key).toBe("scope");
    expect(table.range_key).toBeUndefined();
    expect(blocks(table, "attribute")).toEqual([{ name: "scope", type: "S" }]);
    expect(table.billing_mode).toBe("PAY_PER_REQUEST");
    expect(block(table, "point_in_time_recovery").enabled).toBe(true);
    expect(block(table, "ttl")).toEqual({ attribute_name: "expiresAt", enabled: true });
    expect(raw(table.deletion_protection_enabled)).toBe("var.state_table_deletion_protection");
    expect(mod.variables.state_table_deletion_protection!.default).toBe(true);
    expect(raw(table.name)).toBe("var.state_table_name");
    expect(raw(table.count)).toBe("var.create_state_table ? 1 : 0");
  });
});

describe("rollback alarms", () => {
  const alarms = () => ({
    errorRate: resource("aws_cloudwatch_metric_alarm.gray_error_rate"),
    p99: resource("aws_cloudwatch_metric_alarm.gray_p99"),
    unhealthy: resource("aws_cloudwatch_metric_alarm.gray_unhealthy"),
  });

  it("watch the gray target group with both dimensions (the load balancer's and the target group's ARN suffixes)", () => {
    expect(mod.locals.gray_metric_dimensions).toEqual({
      LoadBalancer: "${local.load_balancer_arn_suffix}",
      TargetGroup: "${aws_lb_target_group.gray.arn_suffix}",
    });
    const suffix = raw(mod.locals.load_balancer_arn_suffix);
    expect(suffix).toBe('regex("listener/(app/[^/]+/[0-9a-f]+)/[0-9a-f]+$", var.listener_arn)[0]');
    const re = /listener\/(app\/[^/]+\/[0-9a-f]+)\/[0-9a-f]+$/;
    expect(
      re.exec(
        "arn:aws:elasticloadbalancing:sa-east-1:123456789012:listener/app/tecpag/0123456789abcdef/fedcba9876543210",
      )?.[1],
    ).toBe("app/tecpag/0123456789abcdef");
    const { errorRate, p99, unhealthy } = alarms();
    for (const q of blocks(errorRate, "metric_query").filter((q) => q.metric)) {
      expect(raw(block(q, "metric").dimensions)).toBe("local.gray_metric_dimensions");
      expect(block(q, "metric").namespace).toBe("AWS/ApplicationELB");
    }
    for (const a of [p99, unhealthy]) {
      expect(raw(a.dimensions)).toBe("local.gray_metric_dimensions");
      expect(a.namespace).toBe("AWS/ApplicationELB");
    }
  });

  it("error rate: 5xx / RequestCount by metric math over one window-long period", () => {
    const queries = blocks(alarms().errorRate, "metric_query");
    const byId = Object.fromEntries(queries.map((q) => [q.id, q]));
    expect(Object.keys(byId).sort()).toEqual(["error_rate", "errors", "requests"]);
    expect(byId.error_rate!.return_data).toBe(true);
    expect(byId.error_rate!.expression).toBe(
      "IF(requests >= ${var.error_rate_min_requests}, 100 * FILL(errors, 0) / requests, 0)",
    );
    const metric = (id: string) => block(byId[id]!, "metric");
    expect(metric("errors").metric_name).toBe("HTTPCode_Target_5XX_Count");
    expect(metric("requests").metric_name).toBe("RequestCount");
    for (const id of ["errors", "requests"]) {
      expect(metric(id).stat).toBe("Sum");
      expect(raw(metric(id).period)).toBe("local.window_seconds");
    }
  });

  it("p99: TargetResponseTime's extended statistic p99 over one window-long period; unhealthy: UnHealthyHostCount maximum per minute", () => {
    const { p99, unhealthy } = alarms();
    expect(p99.metric_name).toBe("TargetResponseTime");
    expect(p99.extended_statistic).toBe("p99");
    expect(p99.statistic).toBeUndefined();
    expect(raw(p99.period)).toBe("local.window_seconds");
    expect(unhealthy.metric_name).toBe("UnHealthyHostCount");
    expect(unhealthy.statistic).toBe("Maximum");
    expect(unhealthy.period).toBe(60);
  });

  it("judge one aggregate datapoint over the window, alarm only above the threshold, and never on missing data", () => {
    expect(raw(mod.locals.window_seconds)).toBe("var.rollback_window_minutes * 60");
    for (const [name, a] of Object.entries(alarms())) {
      expect(a.comparison_operator, name).toBe("GreaterThanThreshold");
      expect(a.evaluation_periods, name).toBe(1);
      expect(a.datapoints_to_alarm, name).toBe(1);
      expect(a.treat_missing_data, name).toBe("notBreaching");
    }
    const { errorRate, p99, unhealthy } = alarms();
    expect(raw(errorRate.threshold)).toBe("var.error_rate_threshold_percent");
    expect(raw(p99.threshold)).toBe("var.p99_threshold_seconds");
    expect(raw(unhealthy.threshold)).toBe("var.unhealthy_hosts_threshold");
    expect(mod.locals.gray_alarms).toEqual([
      "${aws_cloudwatch_metric_alarm.gray_error_rate}",
      "${aws_cloudwatch_metric_alarm.gray_p99}",
      "${aws_cloudwatch_metric_alarm.gray_unhealthy}",
    ]);
  });
});

describe("outputs are the tool's inputs", () => {
  const CONFIG: Readonly<Record<string, string>> = {
    target: "aws",
    region: "local.region",
    listenerArn: "var.listener_arn",
    ruleArn: "aws_lb_listener_rule.weighted.arn",
    stableTargetGroupArn: "var.stable_target_group_arn",
    grayTargetGroupArn: "aws_lb_target_group.gray.arn",
    stableAsg: "var.stable_asg_name",
    grayAsg: "aws_autoscaling_group.gray.name",
    launchTemplate: "local.launch_template_id",
    stateTable: "local.state_table_name",
    alarms: "[for a in local.gray_alarms : a.alarm_name]",
  };

  it("gray_deploy_config renders exactly the config file: camelCase option names, AWS target", () => {
    expect(raw(mod.outputs.gray_deploy_config!.value)).toBe("local.gray_deploy_config");
    const config = mod.locals.gray_deploy_config as Record<string, unknown>;
    expect(Object.fromEntries(Object.entries(config).map(([k, v]) => [k, raw(v)]))).toEqual(CONFIG);
    for (const key of Object.keys(config)) {
      const def = (OPTION_DEFS as Record<string, OptionDef | undefined>)[key];
      expect(def, `${key} is a gray-deploy option`).toBeDefined();
      expect(SCHEMA.targetsOf(key as OptionName).includes("aws"), `${key} applies to --target aws`).toBe(
        true,
      );
      expect(
        def!.frontEnds === undefined || def!.frontEnds.includes("cli"),
        `${key} is accepted from a config file`,
      ).toBe(true);
    }
    expect(OPTION_DEFS.target.choices).toContain(CONFIG.target);
  });

  it("holds every option a rollout on AWS requires", () => {
    const config = mod.locals.gray_deploy_config as Record<string, unknown>;
    const required = (Object.entries(OPTION_DEFS) as [OptionName, OptionDef][])
      .filter(([n]) => SCHEMA.isRequired(n, "deploy-gray", "aws"))
      .map(([n]) => n)
      // The image is the release, given per deploy; never part of the infrastructure.
      .filter((n) => n !== "image");
    expect(required.length).toBeGreaterThan(5);
    for (const n of required) expect(Object.keys(config), n).toContain(n);
  });

  it("also exposes each input on its own, and the policy", () => {
    for (const name of [
      "region",
      "listener_arn",
      "rule_arn",
      "stable_target_group_arn",
      "gray_target_group_arn",
      "stable_asg_name",
      "gray_asg_name",
      "launch_template_id",
      "state_table_name",
      "alarm_names",
      "pipeline_policy_json",
      "pipeline_policy_arn",
      "smoke_header_ssm_parameter",
    ]) {
      expect(mod.outputs[name], name).toBeDefined();
    }
  });
});

describe("guard wiring (on by default)", () => {
  it("is on by default and entirely behind enable_guard", () => {
    expect(mod.variables.enable_guard!.default).toBe(true);
    expect(raw(mod.locals.guard_count)).toBe("var.enable_guard ? 1 : 0");
    const guardResources = Object.entries(mod.resources).filter(([k]) => /guard/.test(k));
    expect(guardResources.length).toBeGreaterThanOrEqual(8);
    for (const [key, r] of guardResources) expect(raw(r.count), key).toBe("local.guard_count");
  });

  it("runs on a gray alarm entering ALARM and on a schedule, with the pipeline's configuration", () => {
    const alarmRule = raw(resource("aws_cloudwatch_event_rule.guard_alarm").event_pattern);
    expect(alarmRule).toContain('"detail-type" = ["CloudWatch Alarm State Change"]');
    expect(alarmRule).toContain("resources     = [for a in local.gray_alarms : a.arn]");
    expect(alarmRule).toMatch(/value = \["ALARM"\]/);
    expect(raw(resource("aws_cloudwatch_event_rule.guard_schedule").schedule_expression)).toBe(
      "var.guard_schedule_expression",
    );
    const env = block(resource("aws_lambda_function.guard"), "environment").variables as Body;
    expect(raw(env.GRAY_DEPLOY_CONFIG)).toBe(
      "jsonencode(merge(local.gray_deploy_config, { maxPause = var.guard_max_pause }))",
    );
    expect(raw(resource("aws_iam_role_policy.guard").policy)).toBe("local.guard_policy_json");
  });

  it("deploys the package scripts/package-guard.ts writes, by default the one in the module, and says how to build it", async () => {
    const { DEFAULT_OUT } = await import("../../scripts/package-guard.js");
    expect(mod.variables.guard_package_path!.default).toBeNull();
    expect(raw(mod.locals.guard_package_path)).toBe(
      'coalesce(var.guard_package_path, "${path.module}/guard/gray-deploy-guard.zip")',
    );
    expect(join(MODULE_DIR, "guard", "gray-deploy-guard.zip")).toBe(DEFAULT_OUT);
    // The package is built, never committed.
    expect(readFileSync(join(MODULE_DIR, "guard", ".gitignore"), "utf8")).toMatch(/^\*\.zip$/m);
    const fn = resource("aws_lambda_function.guard");
    expect(raw(fn.filename)).toBe("local.guard_package_path");
    expect(raw(fn.source_code_hash)).toBe(
      "local.guard_package_found ? filebase64sha256(local.guard_package_path) : null",
    );
    // The handler's export and the runtime the bundle targets (CommonJS index.js, Node 20).
    expect(mod.variables.guard_handler!.default).toBe("index.handler");
    expect(mod.variables.guard_runtime!.default).toBe("nodejs20.x");
    const conditions = blocks(block(fn, "lifecycle"), "precondition").map((p) => ({
      condition: raw(p.condition),
      message: String(p.error_message),
    }));
    expect(conditions).toEqual(
      expect.arrayContaining([
        {
          condition: "local.guard_package_found",
          message: expect.stringMatching(/npm run package:guard.*enable_guard = false/),
        },
        {
          condition: "var.guard_timeout_seconds >= aws_lb_target_group.gray.deregistration_delay + 60",
          message: expect.stringMatching(/deregistration delay/),
        },
      ]),
    );
  });

  it("gives the guard the pipeline's policy without publishing or creating releases", () => {
    const dropped = raw(mod.locals.guard_disabled_sids);
    for (const sid of ["CreateReleaseVersions", "ReadReleaseImage", "EcrAuthentication", "EcrPublish"]) {
      expect(dropped).toContain(`"${sid}"`);
    }
    expect(dropped).toContain("local.pipeline_disabled_sids");
  });
});

describe("example", () => {
  it("wires the module to resources other modules own", () => {
    const m = example.modules.gray!;
    expect(m.source).toBe("../../modules/gray-deployment");
    for (const arg of Object.keys(m)) {
      if (arg === "source") continue;
      expect(mod.variables[arg], `example passes unknown input ${arg}`).toBeDefined();
    }
    for (const [name, v] of Object.entries(mod.variables)) {
      if (!("default" in v)) expect(m[name], `example passes required input ${name}`).toBeDefined();
    }
    for (const owned of [
      "aws_lb.this",
      "aws_lb_listener.this",
      "aws_lb_target_group.stable",
      "aws_launch_template.this",
    ]) {
      expect(example.resources[owned], `${owned} is owned elsewhere`).toBeUndefined();
    }
    expect(raw(example.outputs.gray_deploy_config!.value)).toBe("module.gray.gray_deploy_config");
  });

  it("shows ignore_changes on the stable ASG's launch template version, which promotion moves", () => {
    const stable = example.resources["aws_autoscaling_group.stable"]!;
    expect(ignoreChanges(stable)).toEqual(
      expect.arrayContaining(["launch_template[0].version", "desired_capacity"]),
    );
    expect(raw(block(stable, "launch_template").version)).toBe("var.launch_template_version");
    expect(raw(example.modules.gray!.stable_asg_name)).toBe("aws_autoscaling_group.stable.name");
  });
});
