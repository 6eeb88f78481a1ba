/**
 * IaC/ against the hashicorp/aws and hashicorp/random provider schemas — what `terraform validate`
 * would check, without the provider binary (test/iac/schema-check.ts). Both ends of the version
 * constraints: aws 6.66.0 (newest packaged) and 6.0.0 (the oldest `~> 6.0` allows), random 3.9.1
 * and 3.6.0. A self-test injects each kind of mistake and proves it is caught.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { SOURCES, usedTypes } from "../../scripts/provider-schema.js";
import { EXAMPLE_DIR, MODULE_DIR } from "./hcl.js";
import {
  type CheckResult,
  checkTerraformDir,
  FIXTURES,
  type FindingKind,
  loadSchemas,
  type Schemas,
} from "./schema-check.js";

const SETS = [
  ["aws-6.66.0", "random-3.9.1"],
  ["aws-6.0.0", "random-3.6.0"],
] as const;

const schemasOf = (set: readonly string[]): Schemas =>
  loadSchemas(set.map((n) => join(FIXTURES, `${n}.json`)));

function moduleSources(): Record<string, string> {
  return Object.fromEntries(
    readdirSync(MODULE_DIR)
      .filter((f) => f.endsWith(".tf"))
      .map((f) => [f, readFileSync(join(MODULE_DIR, f), "utf8")]),
  );
}

function exampleSources(): Record<string, string> {
  return Object.fromEntries(
    readdirSync(EXAMPLE_DIR)
      .filter((f) => f.endsWith(".tf"))
      .map((f) => [f, readFileSync(join(EXAMPLE_DIR, f), "utf8")]),
  );
}

describe.each(SETS)("IaC/ against %s and %s", (aws, random) => {
  let schemas: Schemas;
  let module: CheckResult;
  let example: CheckResult;
  beforeAll(async () => {
    schemas = schemasOf([aws, random]);
    module = await checkTerraformDir(MODULE_DIR, schemas);
    example = await checkTerraformDir(EXAMPLE_DIR, schemas);
  }, 60_000);

  test("the module: every block, argument and reference matches the provider's schema", () => {
    expect(module.findings).toEqual([]);
    // What was checked (a check that checks nothing passes too): 28 resource/data blocks today.
    expect(module.counts.blocks).toBeGreaterThanOrEqual(25);
    expect(module.counts.arguments).toBeGreaterThanOrEqual(150);
    expect(module.counts.references).toBeGreaterThanOrEqual(300);
    expect(module.counts.ignoreChanges).toBeGreaterThanOrEqual(4);
  });

  test("the existing-alb example, its module call included", () => {
    expect(example.findings).toEqual([]);
    expect(example.counts.blocks).toBeGreaterThanOrEqual(1);
    expect(example.counts.references).toBeGreaterThanOrEqual(20);
  });
});

describe("the fixtures", () => {
  test("hold exactly the types IaC/ uses, from the provider versions the module README names", async () => {
    const used = await usedTypes();
    const schemas = schemasOf(SETS[0]);
    const fix = "regenerate the fixtures: npx tsx scripts/provider-schema.ts";
    expect(new Set(Object.keys(schemas.resources)), fix).toEqual(used.resources);
    expect(new Set(Object.keys(schemas.data)), fix).toEqual(used.data);
    const readme = readFileSync(join(MODULE_DIR, "README.md"), "utf8");
    for (const s of SOURCES) {
      const fixture = JSON.parse(readFileSync(join(FIXTURES, `${s.name}.json`), "utf8")) as {
        generated_from: string;
        provider_schemas: Record<string, { version: string }>;
      };
      expect(fixture.provider_schemas[`registry.terraform.io/${s.provider}`]?.version).toBe(s.version);
      expect(fixture.generated_from).toContain(s.pkg);
      expect(readme, `the module README names ${s.provider} ${s.version}`).toContain(
        `${s.provider} ${s.version}`,
      );
    }
  });
});

describe("the schema check catches what terraform validate would (self-test)", () => {
  let schemas: Schemas;
  beforeAll(() => {
    schemas = schemasOf(SETS[0]);
  });

  /** Applies `edit` to the module's source `file` (the edit must change it) and checks the module. */
  async function moduleWith(file: string, edit: (s: string) => string): Promise<CheckResult> {
    const sources = moduleSources();
    const before = sources[file]!;
    sources[file] = edit(before);
    expect(sources[file], `the edit of ${file} changed nothing`).not.toBe(before);
    return checkTerraformDir(MODULE_DIR, schemas, sources);
  }

  const kinds = (r: CheckResult): FindingKind[] => r.findings.map((f) => f.kind);

  const CASES: [string, string, (s: string) => string, FindingKind, RegExp][] = [
    [
      "an unknown argument",
      "main.tf",
      (s) =>
        s.replace(
          `target_type      = "instance"`,
          `target_type      = "instance"\n  target_typo      = "instance"`,
        ),
      "unknown-argument",
      /target_typo/,
    ],
    [
      "a missing required argument",
      "main.tf",
      (s) =>
        s.replace(
          /(resource "aws_lb_listener_rule" "weighted" \{\n)\s*listener_arn = var\.listener_arn\n/,
          "$1",
        ),
      "missing-required",
      /listener_arn/,
    ],
    [
      "a computed-only attribute set",
      "main.tf",
      (s) =>
        s.replace(`target_type      = "instance"`, `target_type      = "instance"\n  arn_suffix       = "x"`),
      "computed-only",
      /arn_suffix/,
    ],
    [
      "a block written as an argument",
      "main.tf",
      (s) =>
        s.replace(/(resource "aws_lb_target_group" "gray" \{[\s\S]*?)health_check \{/, "$1health_check = {"),
      "block-as-argument",
      /health_check/,
    ],
    [
      "an argument written as a block",
      "guard.tf",
      (s) =>
        s.replace(
          /(resource "aws_cloudwatch_log_group" "guard" \{[\s\S]*?)tags\s+= local\.module_tags/,
          '$1tags {\n    service = "x"\n  }',
        ),
      "argument-as-block",
      /tags/,
    ],
    [
      "[0] on a set of blocks",
      "outputs.tf",
      (s) => `${s}\noutput "first_condition" {\n  value = aws_lb_listener_rule.weighted.condition[0]\n}\n`,
      "index-on-set",
      /condition\[0\]/,
    ],
    [
      "[0] on a set attribute",
      "outputs.tf",
      (s) =>
        `${s}\noutput "first_zone" {\n  value = data.aws_autoscaling_group.stable.availability_zones[0]\n}\n`,
      "index-on-set",
      /availability_zones\[0\]/,
    ],
    [
      "an ignore_changes path that does not exist",
      "main.tf",
      (s) => s.replace("launch_template[0].version,", "launch_template[0].versoin,"),
      "bad-ignore-changes",
      /versoin/,
    ],
    [
      "an ignore_changes path that indexes a set",
      "main.tf",
      (s) => s.replace("suspended_processes,\n    ]", "suspended_processes,\n      tag[0],\n    ]"),
      "bad-ignore-changes",
      /tag\[0\]/,
    ],
    [
      "an unknown attribute read",
      "alarms.tf",
      (s) => s.replace("aws_lb_target_group.gray.arn_suffix", "aws_lb_target_group.gray.arn_sufix"),
      "unknown-attribute",
      /arn_sufix/,
    ],
    [
      "an unknown field of a nested object read",
      "main.tf",
      (s) => s.replace("local.stable_health_check.path)", "local.stable_health_check.pathh)"),
      "unknown-attribute",
      /pathh/,
    ],
    [
      "a list block read without an index",
      "main.tf",
      (s) =>
        s.replace(
          "data.aws_lb_target_group.stable.health_check[0]",
          "data.aws_lb_target_group.stable.health_check",
        ),
      "missing-index",
      /health_check/,
    ],
    [
      "a counted resource read without an instance key",
      "guard.tf",
      (s) =>
        s.replace(
          "role             = aws_iam_role.guard[0].arn",
          "role             = aws_iam_role.guard.arn",
        ),
      "instance-key",
      /aws_iam_role\.guard/,
    ],
    [
      "an unresolved var. reference",
      "main.tf",
      (s) =>
        s.replace(
          "name             = local.gray_target_group_name",
          "name             = var.gray_target_group_nam",
        ),
      "unresolved-reference",
      /var\.gray_target_group_nam/,
    ],
    [
      "an unresolved local. reference",
      "main.tf",
      (s) =>
        s.replace("name             = local.gray_target_group_name", "name             = local.gray_tg_name"),
      "unresolved-reference",
      /local\.gray_tg_name/,
    ],
    [
      "an unresolved module. reference",
      "outputs.tf",
      (s) => `${s}\noutput "nested" {\n  value = module.nested.x\n}\n`,
      "unresolved-reference",
      /module\.nested/,
    ],
    [
      "an unresolved resource reference",
      "main.tf",
      (s) =>
        s.replace(
          "target_group_arns   = [aws_lb_target_group.gray.arn]",
          "target_group_arns   = [aws_lb_target_group.grey.arn]",
        ),
      "unresolved-reference",
      /aws_lb_target_group\.grey/,
    ],
    [
      "an unknown argument inside a dynamic block's content",
      "main.tf",
      (s) =>
        s.replace(
          "propagate_at_launch = true",
          "propagate_at_launch = true\n      propagate           = true",
        ),
      "unknown-argument",
      /propagate/,
    ],
    [
      "a dynamic block of an unknown type",
      "main.tf",
      (s) => s.replace('dynamic "tag" {', 'dynamic "tags" {'),
      "unknown-block",
      /tags/,
    ],
    [
      "more blocks than max_items",
      "main.tf",
      (s) =>
        s.replace(
          "  launch_template {\n    id      = local.launch_template_id\n    version = local.launch_template_version\n  }\n",
          "  launch_template {\n    id      = local.launch_template_id\n    version = local.launch_template_version\n  }\n\n  launch_template {\n    id      = local.launch_template_id\n    version = local.launch_template_version\n  }\n",
        ),
      "too-many-blocks",
      /launch_template/,
    ],
  ];

  test.each(CASES)("%s", async (_what, file, edit, kind, where) => {
    const r = await moduleWith(file, edit);
    expect(kinds(r), JSON.stringify(r.findings, null, 1)).toContain(kind);
    const f = r.findings.find((x) => x.kind === kind)!;
    expect(`${f.where} ${f.message}`).toMatch(where);
    // Nothing else: each edit is one mistake (read in one place or, through a local, in several).
    expect(new Set(kinds(r)), JSON.stringify(r.findings, null, 1)).toEqual(new Set([kind]));
  });

  test("a module call with an unknown argument, a missing required variable and an unknown output", async () => {
    const sources = exampleSources();
    sources["main.tf"] = sources["main.tf"]!.replace(
      "  listener_arn            = var.listener_arn\n",
      "  listner_arn             = var.listener_arn\n",
    );
    sources["outputs.tf"] =
      `${sources["outputs.tf"]}\noutput "x" {\n  value = module.gray.no_such_output\n}\n`;
    const r = await checkTerraformDir(EXAMPLE_DIR, schemas, sources);
    const messages = r.findings.map((f) => `${f.kind} ${f.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/module-argument .*no variable "listner_arn"/),
        expect.stringMatching(/module-argument .*required variable "listener_arn" is not passed/),
        expect.stringMatching(/unknown-attribute .*no output "no_such_output"/),
      ]),
    );
    expect(r.findings).toHaveLength(3);
  });

  test("a block type the older provider does not have is caught against it (6.0.0)", async () => {
    // jwt_validation appeared after 6.0.0: the same module checked against both catches such drift.
    const edit = (s: string) =>
      s.replace(
        '  action {\n    type             = "forward"\n    target_group_arn = aws_lb_target_group.gray.arn\n  }',
        '  action {\n    type             = "forward"\n    target_group_arn = aws_lb_target_group.gray.arn\n\n    jwt_validation {\n      issuer        = "https://issuer"\n      jwks_endpoint = "https://issuer/jwks"\n    }\n  }',
      );
    const sources = moduleSources();
    sources["smoke.tf"] = edit(sources["smoke.tf"]!);
    const newest = await checkTerraformDir(MODULE_DIR, schemas, sources);
    const oldest = await checkTerraformDir(MODULE_DIR, schemasOf(SETS[1]), sources);
    expect(newest.findings).toEqual([]);
    expect(oldest.findings.map((f) => `${f.kind} ${f.where}`)).toEqual([
      "unknown-block aws_lb_listener_rule.smoke.action.jwt_validation",
    ]);
  });
});
