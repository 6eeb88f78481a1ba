/**
 * Regenerates the provider-schema fixtures test/iac/provider-schema/*.json: the hashicorp/aws and
 * hashicorp/random schemas of ONLY the resource and data source types IaC/ uses, for the schema
 * check in test/iac/provider-schema.test.ts (`terraform validate` needs the provider binary, which
 * cannot be fetched here; its schema can).
 *
 *   npx tsx scripts/provider-schema.ts                      # from the npm packages below (network: npm registry)
 *   npx tsx scripts/provider-schema.ts --from-terraform schema.json [--name aws-6.66.0]
 *       # from `terraform providers schema -json` run where the providers CAN be installed: the
 *       # fixture then comes from the provider itself (same format, same types kept)
 *
 * Where the schema comes from: the prebuilt CDK for Terraform provider packages are generated from the
 * provider's own `terraform providers schema -json` (cdktf's provider-generator). Their generated
 * JavaScript keeps, for every resource, data source and nested block:
 * - each attribute's Terraform name (`this.getStringAttribute('listener_arn')`) and type (which getter);
 * - whether it can be set at all (a setter), whether it may be left out (a `reset…` method), and, in
 *   recent packages, the schema's flags verbatim (`// priority - computed: true, optional: true,
 *   required: false`);
 * - block versus attribute, and the nesting mode (`synthesizeHclAttributes`/`…ToHclTerraform`:
 *   `isBlock`, type list | set | struct (single) | map);
 * - max_items = 1 (the generator makes such a block a single `…OutputReference` instead of a `…List`),
 *   min_items ≥ 1 (the block is required), set versus list (`new …List(this, "name", wrapsSet)`).
 * What it does NOT keep, so the fixture cannot hold it: max_items above 1 and min_items above 1,
 * attribute descriptions, validators (value ranges, enums), ConflictsWith/ExactlyOneOf. Those need
 * the provider itself (`--from-terraform`).
 *
 * The package is downloaded into a temporary directory with `npm pack` (no install, no scripts run):
 * nothing of it is kept but the fixture.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { EXAMPLE_DIR, loadTerraformDir, MODULE_DIR, ROOT } from "../test/iac/hcl.js";

/** The packages the fixtures come from, and the provider version each was generated from. */
export const SOURCES = [
  // hashicorp/aws: the newest the module is checked against, and the oldest `~> 6.0` allows.
  {
    name: "aws-6.66.0",
    provider: "hashicorp/aws",
    version: "6.66.0",
    pkg: "@cdktn/provider-aws@25.7.0",
    lib: "cdktn",
  },
  {
    name: "aws-6.0.0",
    provider: "hashicorp/aws",
    version: "6.0.0",
    pkg: "@cdktf/provider-aws@21.0.0",
    lib: "cdktf",
  },
  // hashicorp/random `~> 3.6`: newest and oldest.
  {
    name: "random-3.9.1",
    provider: "hashicorp/random",
    version: "3.9.1",
    pkg: "@cdktn/provider-random@15.0.1",
    lib: "cdktn",
  },
  {
    name: "random-3.6.0",
    provider: "hashicorp/random",
    version: "3.6.0",
    pkg: "@cdktf/provider-random@11.0.0",
    lib: "cdktf",
  },
] as const;

export const FIXTURE_DIR = join(ROOT, "test", "iac", "provider-schema");

// ── Terraform's schema JSON (the subset the check reads) ─────────────────────────────────────────

export type AttributeType = string | [string, AttributeType] | ["object", Record<string, AttributeType>];

export interface SchemaAttribute {
  type: AttributeType;
  required?: true;
  optional?: true;
  computed?: true;
}

export interface SchemaBlockType {
  nesting_mode: "single" | "list" | "set" | "map";
  block: SchemaBlock;
  min_items?: number;
  max_items?: number;
}

export interface SchemaBlock {
  attributes?: Record<string, SchemaAttribute>;
  block_types?: Record<string, SchemaBlockType>;
}

export interface ProviderSchemaFile {
  format_version: "1.0";
  generated_from: string;
  provider_schemas: Record<
    string,
    {
      version: string;
      resource_schemas: Record<string, { block: SchemaBlock }>;
      data_source_schemas: Record<string, { block: SchemaBlock }>;
    }
  >;
}

// ── the types IaC/ uses ─────────────────────────────────────────────────────────────────────────

export async function usedTypes(): Promise<{ resources: Set<string>; data: Set<string> }> {
  const resources = new Set<string>();
  const data = new Set<string>();
  for (const dir of [MODULE_DIR, EXAMPLE_DIR]) {
    const tf = await loadTerraformDir(dir);
    for (const k of Object.keys(tf.resources)) resources.add(k.split(".")[0]!);
    for (const k of Object.keys(tf.data)) data.add(k.split(".")[0]!);
  }
  return { resources, data };
}

// ── reading the generated JavaScript ────────────────────────────────────────────────────────────

interface Member {
  /** Terraform name. */
  name: string;
  kind: "scalar" | "complex";
  /** scalar: string | number | bool | list(string) | set(string) | map(string) …; complex: the class. */
  type: AttributeType | null;
  cls: string | null;
  wrapsSet: boolean | null;
  settable: boolean;
  resettable: boolean;
  flags: { computed: boolean; optional: boolean; required: boolean } | null;
}

interface Hcl {
  isBlock: boolean;
  type: "simple" | "list" | "set" | "map" | "struct";
}

class GeneratedFile {
  readonly sf: ts.SourceFile;
  readonly classes = new Map<string, ts.ClassDeclaration>();
  readonly functions = new Map<string, ts.FunctionDeclaration>();
  readonly text: string;

  constructor(
    file: string,
    readonly lib: string,
  ) {
    this.text = readFileSync(file, "utf8");
    this.sf = ts.createSourceFile(file, this.text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
    for (const st of this.sf.statements) {
      if (ts.isClassDeclaration(st) && st.name) this.classes.set(st.name.text, st);
      if (ts.isFunctionDeclaration(st) && st.name) this.functions.set(st.name.text, st);
    }
  }

  /** The class whose static tfResourceType is `type`. */
  resourceClass(type: string): string | null {
    for (const [name, cls] of this.classes) {
      const m = new RegExp(`(?:static\\s+)?tfResourceType\\s*=\\s*"${type}"`).test(cls.getText(this.sf));
      const after = this.text.includes(`${name}.tfResourceType = "${type}"`);
      if (m || after) return name;
    }
    return null;
  }

  /** `{ snake: { isBlock, type } }` from a `synthesizeHclAttributes` method or a `…ToHclTerraform` function. */
  hclAttributes(node: ts.Node | undefined): Map<string, Hcl> {
    const out = new Map<string, Hcl>();
    if (!node) return out;
    const visit = (n: ts.Node): void => {
      if (ts.isVariableDeclaration(n) && n.name.getText(this.sf) === "attrs" && n.initializer) {
        const obj = n.initializer;
        if (ts.isObjectLiteralExpression(obj)) {
          for (const p of obj.properties) {
            if (!ts.isPropertyAssignment(p) || !ts.isObjectLiteralExpression(p.initializer)) continue;
            const name = p.name.getText(this.sf).replace(/^["']|["']$/g, "");
            const get = (k: string) =>
              p.initializer && ts.isObjectLiteralExpression(p.initializer)
                ? p.initializer.properties
                    .find((q) => ts.isPropertyAssignment(q) && q.name.getText(this.sf) === k)
                    ?.getText(this.sf)
                : undefined;
            out.set(name, {
              isBlock: /:\s*true/.test(get("isBlock") ?? ""),
              type: (/"(\w+)"/.exec(get("type") ?? "")?.[1] ?? "simple") as Hcl["type"],
            });
          }
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(node);
    return out;
  }

  hclOfClass(cls: string): Map<string, Hcl> {
    const decl = this.classes.get(cls);
    const method = decl?.members.find(
      (m) => ts.isMethodDeclaration(m) && m.name.getText(this.sf) === "synthesizeHclAttributes",
    );
    if (method) return this.hclAttributes(method);
    const base = cls.replace(/OutputReference$/, "");
    const fn = this.functions.get(`${base.charAt(0).toLowerCase()}${base.slice(1)}ToHclTerraform`);
    return this.hclAttributes(fn);
  }

  /** Every attribute or block a resource class or an …OutputReference class exposes. */
  members(cls: string): Member[] {
    const decl = this.classes.get(cls);
    if (!decl) throw new Error(`no class ${cls}`);
    const body = decl.getText(this.sf);
    const flags = new Map<string, Member["flags"]>();
    for (const m of body.matchAll(
      /\/\/ (\S+) - computed: (true|false), optional: (true|false), required: (true|false)/g,
    )) {
      flags.set(m[1]!, { computed: m[2] === "true", optional: m[3] === "true", required: m[4] === "true" });
    }
    // `_x = new C(this, "name", wrapsSet?)`, as a class field or assigned in the constructor.
    const inits = new Map<string, { cls: string; name: string; wrapsSet: boolean | null }>();
    for (const m of body.matchAll(
      /(?:this\.)?(_\w+)\s*=\s*new\s+([\w.]+)\(this,\s*"([^"]+)"(?:,\s*(true|false))?\)/g,
    )) {
      inits.set(m[1]!, { cls: m[2]!, name: m[3]!, wrapsSet: m[4] === undefined ? null : m[4] === "true" });
    }
    const getters = new Map<string, ts.GetAccessorDeclaration>();
    const setters = new Set<string>();
    const methods = new Set<string>();
    for (const m of decl.members) {
      const name = m.name?.getText(this.sf) ?? "";
      if (ts.isGetAccessorDeclaration(m)) getters.set(name, m);
      if (ts.isSetAccessorDeclaration(m)) setters.add(name);
      if (ts.isMethodDeclaration(m)) methods.add(name);
    }
    const out: Member[] = [];
    for (const [prop, getter] of getters) {
      if (prop.endsWith("Input") || prop === "internalValue") continue;
      const ret = getter.body?.statements.find(ts.isReturnStatement)?.expression?.getText(this.sf) ?? "";
      const reset = methods.has(`reset${prop.charAt(0).toUpperCase()}${prop.slice(1)}`);
      let m: Member | null = null;
      const scalar =
        /this\.get(String|Number|Boolean|List|NumberList|StringMap|NumberMap|BooleanMap|AnyMap)Attribute\('([^']+)'\)/.exec(
          ret,
        );
      const field = /^this\.(_\w+)$/.exec(ret);
      const any = /this\.interpolationForAttribute\('([^']+)'\)/.exec(ret);
      if (scalar) {
        const set = ret.includes("Fn.tolist(");
        const t: Record<string, AttributeType> = {
          String: "string",
          Number: "number",
          Boolean: "bool",
          List: [set ? "set" : "list", "string"],
          NumberList: [set ? "set" : "list", "number"],
          StringMap: ["map", "string"],
          NumberMap: ["map", "number"],
          BooleanMap: ["map", "bool"],
          AnyMap: ["map", "dynamic"],
        };
        m = {
          name: scalar[2]!,
          kind: "scalar",
          type: t[scalar[1]!]!,
          cls: null,
          wrapsSet: null,
          settable: false,
          resettable: false,
          flags: null,
        };
      } else if (field && inits.has(field[1]!)) {
        const init = inits.get(field[1]!)!;
        const lib = `${this.lib}.`;
        if (init.cls.startsWith(lib)) {
          const t: Record<string, AttributeType> = {
            StringMap: ["map", "string"],
            NumberMap: ["map", "number"],
            BooleanMap: ["map", "bool"],
            AnyMap: ["map", "dynamic"],
            StringMapList: ["list", ["map", "string"]],
            StringListMap: ["map", ["list", "string"]],
          };
          const type = t[init.cls.slice(lib.length)];
          if (!type) throw new Error(`${cls}.${prop}: unknown ${init.cls}`);
          m = {
            name: init.name,
            kind: "scalar",
            type,
            cls: null,
            wrapsSet: null,
            settable: false,
            resettable: false,
            flags: null,
          };
        } else {
          m = {
            name: init.name,
            kind: "complex",
            type: null,
            cls: init.cls,
            wrapsSet: init.wrapsSet,
            settable: false,
            resettable: false,
            flags: null,
          };
        }
      } else if (any) {
        m = {
          name: any[1]!,
          kind: "scalar",
          type: "dynamic",
          cls: null,
          wrapsSet: null,
          settable: false,
          resettable: false,
          flags: null,
        };
      }
      if (!m) continue; // fqn, terraformResourceType and other plumbing
      // A complex member is set with put…(), a scalar with a setter.
      m.settable = setters.has(prop) || methods.has(`put${prop.charAt(0).toUpperCase()}${prop.slice(1)}`);
      m.resettable = reset;
      m.flags = flags.get(m.name) ?? null;
      out.push(m);
    }
    return out;
  }

  /** The element class of a …List / …Map class (what its `get()` returns). */
  elementOf(cls: string): string {
    const decl = this.classes.get(cls);
    const m = decl && /return new (\w+OutputReference)\(/.exec(decl.getText(this.sf));
    if (!m) throw new Error(`${cls}: no element class`);
    return m[1]!;
  }

  /** Terraform's block for a resource class or an …OutputReference class. */
  block(cls: string): SchemaBlock {
    const hcl = this.hclOfClass(cls);
    const block: SchemaBlock = {};
    for (const m of this.members(cls).sort((a, b) => a.name.localeCompare(b.name))) {
      const h = hcl.get(m.name);
      const settable = m.settable || h !== undefined;
      const computed = m.flags?.computed ?? !settable;
      const required = m.flags ? m.flags.required : settable && !m.resettable;
      const optional = m.flags ? m.flags.optional : settable && m.resettable;
      if (m.flags && settable !== (m.flags.optional || m.flags.required)) {
        throw new Error(
          `${cls}.${m.name}: the schema flags say settable=${!settable}, the code the opposite`,
        );
      }
      if (h?.isBlock) {
        const inner = m.cls!.endsWith("OutputReference") ? m.cls! : this.elementOf(m.cls!);
        const bt: SchemaBlockType = {
          nesting_mode:
            h.type === "struct" ? "single" : h.type === "map" ? "map" : h.type === "set" ? "set" : "list",
          block: this.block(inner),
        };
        if (required) bt.min_items = 1;
        if (m.cls!.endsWith("OutputReference") && (h.type === "list" || h.type === "set")) bt.max_items = 1;
        block.block_types = { ...block.block_types, [m.name]: bt };
        continue;
      }
      const attr: SchemaAttribute = { type: m.type ?? this.objectType(m) };
      if (required) attr.required = true;
      if (optional) attr.optional = true;
      if (computed) attr.computed = true;
      block.attributes = { ...block.attributes, [m.name]: attr };
    }
    return block;
  }

  /** The type of an object-valued attribute (a computed list of objects, a nested attribute…). */
  objectType(m: Member): AttributeType {
    const cls = m.cls!;
    const element = cls.endsWith("OutputReference") ? cls : this.elementOf(cls);
    const fields: Record<string, AttributeType> = {};
    for (const f of this.members(element)) fields[f.name] = f.type ?? this.objectType(f);
    const object: AttributeType = ["object", fields];
    if (cls.endsWith("OutputReference")) return object;
    if (cls.endsWith("Map")) return ["map", object];
    return [m.wrapsSet ? "set" : "list", object];
  }
}

function packageDir(pkg: string, into: string): string {
  execFileSync("npm", ["pack", pkg, "--silent", "--pack-destination", into], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const tgz = readdirSync(into).find((f) => f.endsWith(".tgz"));
  if (!tgz) throw new Error(`npm pack ${pkg}: no tarball`);
  execFileSync("tar", ["xzf", join(into, tgz), "-C", into]);
  return join(into, "package");
}

function fileOf(pkgDir: string, type: string, data: boolean, providerPrefix: string): string {
  const base = data ? `data-${type}` : type.slice(providerPrefix.length + 1);
  return join(pkgDir, "lib", base.replace(/_/g, "-"), "index.js");
}

export async function fromPackage(source: (typeof SOURCES)[number]): Promise<ProviderSchemaFile> {
  const { resources, data } = await usedTypes();
  const prefix = source.provider.split("/")[1]!;
  const tmp = mkdtempSync(join(tmpdir(), "provider-schema-"));
  try {
    const dir = packageDir(source.pkg, tmp);
    const pkgJson = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
      cdktf?: { provider?: { name?: string; version?: string } };
    };
    const generatedFrom = pkgJson.cdktf?.provider?.version;
    if (generatedFrom !== source.version) {
      throw new Error(
        `${source.pkg} was generated from ${source.provider} ${generatedFrom}, not ${source.version}`,
      );
    }
    const out: ProviderSchemaFile = {
      format_version: "1.0",
      generated_from: `${source.pkg} (cdktf's generator ran on \`terraform providers schema -json\` of ${source.provider} ${source.version}); scripts/provider-schema.ts keeps only the types IaC/ uses`,
      provider_schemas: {
        [`registry.terraform.io/${source.provider}`]: {
          version: source.version,
          resource_schemas: {},
          data_source_schemas: {},
        },
      },
    };
    const schemas = out.provider_schemas[`registry.terraform.io/${source.provider}`]!;
    for (const [set, isData] of [
      [resources, false],
      [data, true],
    ] as const) {
      for (const type of [...set].sort()) {
        if (!type.startsWith(`${prefix}_`)) continue;
        const file = new GeneratedFile(fileOf(dir, type, isData, prefix), source.lib);
        const cls = file.resourceClass(type);
        if (!cls) throw new Error(`${source.pkg}: no class for ${isData ? "data " : ""}${type}`);
        (isData ? schemas.data_source_schemas : schemas.resource_schemas)[type] = { block: file.block(cls) };
      }
    }
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The same fixture from `terraform providers schema -json` (every provider in it, only the used types). */
export async function fromTerraform(file: string): Promise<ProviderSchemaFile[]> {
  const { resources, data } = await usedTypes();
  const full = JSON.parse(readFileSync(file, "utf8")) as {
    provider_schemas: Record<
      string,
      {
        resource_schemas?: Record<string, { block: unknown }>;
        data_source_schemas?: Record<string, { block: unknown }>;
      }
    >;
  };
  const strip = (b: unknown): SchemaBlock =>
    JSON.parse(JSON.stringify(b), (k, v) =>
      k === "description" || k === "description_kind" || k === "deprecated" ? undefined : v,
    );
  return Object.entries(full.provider_schemas).map(([fqn, p]) => ({
    format_version: "1.0",
    generated_from: `terraform providers schema -json (${fqn})`,
    provider_schemas: {
      [fqn]: {
        version: "from-terraform",
        resource_schemas: Object.fromEntries(
          Object.entries(p.resource_schemas ?? {})
            .filter(([t]) => resources.has(t))
            .map(([t, s]) => [t, { block: strip(s.block) }]),
        ),
        data_source_schemas: Object.fromEntries(
          Object.entries(p.data_source_schemas ?? {})
            .filter(([t]) => data.has(t))
            .map(([t, s]) => [t, { block: strip(s.block) }]),
        ),
      },
    },
  }));
}

/** Writes a fixture as the repository keeps it (Biome's JSON formatting, so a rerun changes nothing). */
function writeFixture(out: string, f: ProviderSchemaFile): void {
  writeFileSync(out, `${JSON.stringify(f, null, 2)}\n`);
  execFileSync("npx", ["biome", "format", "--write", out], { stdio: "ignore" });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const i = args.indexOf("--from-terraform");
  if (i >= 0) {
    const name = args[args.indexOf("--name") + 1];
    for (const f of await fromTerraform(args[i + 1]!)) {
      const fqn = Object.keys(f.provider_schemas)[0]!;
      const out = join(FIXTURE_DIR, `${name && args.includes("--name") ? name : fqn.split("/").pop()}.json`);
      writeFixture(out, f);
      console.log(`wrote ${out}`);
    }
    return;
  }
  for (const source of SOURCES) {
    const f = await fromPackage(source);
    const out = join(FIXTURE_DIR, `${source.name}.json`);
    writeFixture(out, f);
    console.log(`wrote ${out} (${source.pkg})`);
  }
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
