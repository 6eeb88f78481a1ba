/**
 * What `terraform validate` would say about IaC/, without the provider binary: every resource and
 * data block (nested blocks and `dynamic` blocks included) against the provider's schema
 * (test/iac/provider-schema/*.json, see scripts/provider-schema.ts), every reference against what is
 * declared and what the schema says a resource exposes.
 *
 * Checks, each a finding `kind`:
 * - unknown-argument / unknown-block: a name the schema does not have (meta-arguments aside);
 * - missing-required: a required argument, or a block with min_items ≥ 1, not written (a `dynamic`
 *   block counts as written, as for `terraform validate`);
 * - computed-only: an attribute the provider sets (neither required nor optional) written;
 * - block-as-argument / argument-as-block: `health_check = {…}` for a block, `tags { … }` for an
 *   argument (the structure comes from hcl-structure.ts, cross-checked against hcl2json);
 * - too-many-blocks: more static blocks than max_items;
 * - index-on-set / missing-index / not-indexable: `[0]` on a set (block or attribute), a list block
 *   read without an index, an index where there is no list;
 * - bad-ignore-changes: an ignore_changes path the schema does not have (or that indexes a set);
 * - unknown-attribute: a resource, data source, module output or object field read that does not exist;
 * - unresolved-reference: var./local./module./data./resource addresses not declared; count.index
 *   without count, each.* without for_each;
 * - instance-key: a counted resource read without `[i]`, or an index on one without count/for_each;
 * - module-argument: a module call's argument the module does not declare, or a required variable
 *   (no default) not passed.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { getExpressionAst, parse } from "@cdktn/hcl2json";
import type { AttributeType, ProviderSchemaFile, SchemaBlock } from "../../scripts/provider-schema.js";
import { crossCheck, type Item, scanFile } from "./hcl-structure.js";

export type FindingKind =
  | "unknown-argument"
  | "unknown-block"
  | "missing-required"
  | "computed-only"
  | "block-as-argument"
  | "argument-as-block"
  | "too-many-blocks"
  | "index-on-set"
  | "missing-index"
  | "not-indexable"
  | "bad-ignore-changes"
  | "unknown-attribute"
  | "unresolved-reference"
  | "instance-key"
  | "module-argument"
  | "structure";

export interface Finding {
  readonly kind: FindingKind;
  readonly file: string;
  readonly line: number;
  /** The block or expression, e.g. `aws_lb_listener_rule.weighted.action.forward`. */
  readonly where: string;
  readonly message: string;
}

export interface Schemas {
  readonly resources: Readonly<Record<string, SchemaBlock>>;
  readonly data: Readonly<Record<string, SchemaBlock>>;
  /** "hashicorp/aws 6.66.0, hashicorp/random 3.9.1" */
  readonly versions: string;
}

export interface CheckCounts {
  /** resource + data blocks. */
  blocks: number;
  /** Nested blocks (static and dynamic) inside them. */
  nestedBlocks: number;
  /** Arguments written inside resource and data blocks (nested ones included). */
  arguments: number;
  /** Traversals checked (var., local., module., data., resources, attributes read). */
  references: number;
  ignoreChanges: number;
}

export interface CheckResult {
  readonly findings: Finding[];
  readonly counts: CheckCounts;
}

export function loadSchemas(files: readonly string[]): Schemas {
  const resources: Record<string, SchemaBlock> = {};
  const data: Record<string, SchemaBlock> = {};
  const versions: string[] = [];
  for (const f of files) {
    const doc = JSON.parse(readFileSync(f, "utf8")) as ProviderSchemaFile;
    for (const [fqn, p] of Object.entries(doc.provider_schemas)) {
      versions.push(`${fqn.replace("registry.terraform.io/", "")} ${p.version}`);
      for (const [t, s] of Object.entries(p.resource_schemas)) resources[t] = s.block;
      for (const [t, s] of Object.entries(p.data_source_schemas)) data[t] = s.block;
    }
  }
  return { resources, data, versions: versions.join(", ") };
}

// ── a directory's declarations ──────────────────────────────────────────────────────────────────

interface Decl {
  readonly file: string;
  readonly item: Item;
}

interface Dir {
  readonly dir: string;
  readonly resources: Map<string, Decl>;
  readonly data: Map<string, Decl>;
  readonly variables: Map<string, Decl>;
  readonly outputs: Map<string, Decl>;
  readonly locals: Map<string, { file: string; line: number; expr: string }>;
  readonly modules: Map<string, Decl>;
  readonly files: Map<string, Item[]>;
}

/** Reads a directory's .tf files (or `sources`, file name → text, instead of the disk). */
export async function readDir(dir: string, sources?: Readonly<Record<string, string>>): Promise<Dir> {
  const texts: Record<string, string> =
    sources ??
    Object.fromEntries(
      readdirSync(dir)
        .filter((f) => f.endsWith(".tf"))
        .sort()
        .map((f) => [f, readFileSync(join(dir, f), "utf8")]),
    );
  const d: Dir = {
    dir,
    resources: new Map(),
    data: new Map(),
    variables: new Map(),
    outputs: new Map(),
    locals: new Map(),
    modules: new Map(),
    files: new Map(),
  };
  for (const [file, text] of Object.entries(texts)) {
    const items = scanFile(text);
    const diffs = crossCheck(items, (await parse(file, text)) as Record<string, unknown>);
    if (diffs.length > 0) {
      throw new Error(`${file}: the HCL structure scanner disagrees with hcl2json:\n${diffs.join("\n")}`);
    }
    d.files.set(file, items);
    for (const it of items) {
      if (it.kind !== "block") continue;
      const [a, b] = it.labels;
      if (it.name === "resource") d.resources.set(`${a}.${b}`, { file, item: it });
      else if (it.name === "data") d.data.set(`${a}.${b}`, { file, item: it });
      else if (it.name === "variable") d.variables.set(a!, { file, item: it });
      else if (it.name === "output") d.outputs.set(a!, { file, item: it });
      else if (it.name === "module") d.modules.set(a!, { file, item: it });
      else if (it.name === "locals") {
        for (const l of it.body ?? []) {
          if (l.kind === "attribute") d.locals.set(l.name, { file, line: l.line, expr: l.expr ?? "" });
        }
      }
    }
  }
  return d;
}

// ── expressions ───────────────────────────────────────────────────────────────────────────────

interface Ast {
  readonly type: string;
  readonly children?: readonly Ast[];
  readonly meta?: {
    readonly value?: string;
    readonly keyVar?: string;
    readonly valVar?: string;
    readonly traversal?: readonly { readonly type: string; readonly segment: string }[];
  };
}

const astCache = new Map<string, Ast | null>();

async function ast(expr: string): Promise<Ast | null> {
  if (astCache.has(expr)) return astCache.get(expr)!;
  let node: Ast | null = null;
  try {
    node = (await getExpressionAst("expr.tf", expr)) as Ast | null;
  } catch {
    node = null;
  }
  astCache.set(expr, node);
  return node;
}

/** A traversal step: `.name`, `[index]` or `[*]`. */
type Step = { kind: "name"; name: string } | { kind: "index"; key: string } | { kind: "splat" };

function steps(t: readonly { type: string; segment: string }[]): Step[] {
  return t.map((p) =>
    p.type === "nameTraversal" ? { kind: "name", name: p.segment } : { kind: "index", key: p.segment },
  );
}

/** Every traversal of an expression, with the for/dynamic variables bound where it appears. */
async function traversals(expr: string): Promise<{ steps: Step[]; bound: Set<string> }[]> {
  const root = await ast(expr);
  const out: { steps: Step[]; bound: Set<string> }[] = [];
  const visit = (n: Ast, bound: Set<string>): void => {
    if (n.type === "for") {
      const b = new Set(bound);
      if (n.meta?.keyVar) b.add(n.meta.keyVar);
      if (n.meta?.valVar) b.add(n.meta.valVar);
      for (const c of n.children ?? []) visit(c, b);
      return;
    }
    if (n.type === "scopeTraversal" && n.meta?.traversal) {
      out.push({ steps: steps(n.meta.traversal), bound });
      return;
    }
    if (n.type === "splat") {
      // children: the source traversal, then the traversal applied to each element.
      const [src, each] = n.children ?? [];
      if (src?.type === "scopeTraversal" && src.meta?.traversal) {
        const rest =
          each?.type === "relativeTraversal" && each.meta?.traversal ? steps(each.meta.traversal) : [];
        out.push({ steps: [...steps(src.meta.traversal), { kind: "splat" }, ...rest], bound });
        return;
      }
    }
    for (const c of n.children ?? []) visit(c, bound);
  };
  if (root) visit(root, new Set());
  return out;
}

// ── types: what a traversal may step into ──────────────────────────────────────────────────────

type Shape =
  | { kind: "block"; block: SchemaBlock }
  | { kind: "blocks"; nesting: "list" | "set" | "map"; block: SchemaBlock }
  | { kind: "type"; type: AttributeType }
  | { kind: "any" };

function stepInto(shape: Shape, step: Step): Shape | string {
  if (shape.kind === "any") return shape;
  if (shape.kind === "block") {
    if (step.kind !== "name") return "not-indexable:this object is not a list or map";
    const attr = shape.block.attributes?.[step.name];
    if (attr) return { kind: "type", type: attr.type };
    const bt = shape.block.block_types?.[step.name];
    if (bt) {
      if (bt.nesting_mode === "single") return { kind: "block", block: bt.block };
      return { kind: "blocks", nesting: bt.nesting_mode, block: bt.block };
    }
    return `unknown-attribute:has no attribute or block "${step.name}"`;
  }
  if (shape.kind === "blocks") {
    if (shape.nesting === "set") {
      if (step.kind === "splat") return { kind: "block", block: shape.block };
      return step.kind === "index"
        ? "index-on-set:is a set of blocks: set elements have no index (use one(), tolist() or a for expression)"
        : `index-on-set:is a set of blocks: "${step.name}" cannot be read without choosing an element`;
    }
    if (step.kind === "splat") return { kind: "block", block: shape.block };
    if (step.kind === "index") {
      if (shape.nesting === "list" && !/^[0-9]+$/.test(step.key))
        return "not-indexable:a list block takes a numeric index";
      return { kind: "block", block: shape.block };
    }
    return shape.nesting === "list"
      ? `missing-index:is a list of blocks: index it ([0]) before reading "${step.name}"`
      : { kind: "block", block: shape.block };
  }
  const t = shape.type;
  if (t === "dynamic") return { kind: "any" };
  if (typeof t === "string") return `not-indexable:is a ${t}: it has no attributes or elements`;
  const [k, inner] = t;
  if (k === "list" || k === "set") {
    if (step.kind === "splat") return { kind: "type", type: inner as AttributeType };
    if (k === "set")
      return "index-on-set:is a set: set elements have no index (use one(), tolist() or a for expression)";
    if (step.kind === "index") return { kind: "type", type: inner as AttributeType };
    return `missing-index:is a list: index it before reading "${step.name}"`;
  }
  if (k === "map") return { kind: "type", type: inner as AttributeType };
  if (k === "object") {
    if (step.kind !== "name") return "not-indexable:is an object";
    const f = (inner as Record<string, AttributeType>)[step.name];
    return f === undefined ? `unknown-attribute:has no attribute "${step.name}"` : { kind: "type", type: f };
  }
  return { kind: "any" };
}

// ── the checker ────────────────────────────────────────────────────────────────────────────────

const RESOURCE_META = new Set(["count", "for_each", "provider", "depends_on"]);
const RESOURCE_META_BLOCKS = new Set(["lifecycle", "provisioner", "connection"]);
const LIFECYCLE = new Set([
  "create_before_destroy",
  "prevent_destroy",
  "ignore_changes",
  "replace_triggered_by",
]);

class Checker {
  readonly findings: Finding[] = [];
  readonly counts: CheckCounts = {
    blocks: 0,
    nestedBlocks: 0,
    arguments: 0,
    references: 0,
    ignoreChanges: 0,
  };
  readonly moduleDirs = new Map<string, Dir>();

  constructor(
    readonly d: Dir,
    readonly schemas: Schemas,
  ) {}

  add(kind: FindingKind, file: string, line: number, where: string, message: string): void {
    this.findings.push({ kind, file, line, where, message });
  }

  async run(): Promise<void> {
    for (const [name, mod] of this.d.modules) {
      const src = mod.item.body?.find((i) => i.name === "source")?.expr ?? "";
      const rel = /^"(\.{1,2}\/[^"]+)"$/.exec(src)?.[1];
      if (rel) this.moduleDirs.set(name, await readDir(resolve(this.d.dir, rel)));
    }
    for (const [addr, decl] of this.d.resources) await this.checkResource(addr, decl, false);
    for (const [addr, decl] of this.d.data) await this.checkResource(addr, decl, true);
    for (const [name, decl] of this.d.modules) await this.checkModuleCall(name, decl);
    for (const [name, l] of this.d.locals) await this.checkExpr(l.expr, l.file, l.line, `local.${name}`, {});
    for (const [name, o] of this.d.outputs)
      await this.checkBodyExprs(o.item.body ?? [], o.file, `output.${name}`, {});
    for (const [name, v] of this.d.variables) {
      for (const b of (v.item.body ?? []).filter((i) => i.name === "validation")) {
        await this.checkBodyExprs(b.body ?? [], v.file, `variable.${name}`, {});
      }
    }
    for (const [file, items] of this.d.files) {
      for (const p of items.filter((i) => i.name === "provider"))
        await this.checkBodyExprs(p.body ?? [], file, "provider", {});
    }
  }

  async checkBodyExprs(items: readonly Item[], file: string, where: string, scope: Scope): Promise<void> {
    for (const it of items) {
      if (it.kind === "attribute")
        await this.checkExpr(it.expr ?? "", file, it.line, `${where}.${it.name}`, scope);
      else await this.checkBodyExprs(it.body ?? [], file, `${where}.${it.name}`, scope);
    }
  }

  async checkResource(addr: string, decl: Decl, isData: boolean): Promise<void> {
    const [type] = addr.split(".");
    const schema = (isData ? this.schemas.data : this.schemas.resources)[type!];
    const where = `${isData ? "data." : ""}${addr}`;
    this.counts.blocks++;
    const body = decl.item.body ?? [];
    const scope: Scope = {
      count: body.some((i) => i.name === "count"),
      each: body.some((i) => i.name === "for_each"),
    };
    if (!schema) {
      this.add(
        "unknown-block",
        decl.file,
        decl.item.line,
        where,
        `${type} is not a ${isData ? "data source" : "resource type"} of ${this.schemas.versions}`,
      );
      return;
    }
    for (const it of body) {
      if (it.kind === "attribute" && RESOURCE_META.has(it.name)) {
        if (it.name !== "provider")
          await this.checkExpr(it.expr ?? "", decl.file, it.line, `${where}.${it.name}`, {
            ...scope,
            count: false,
            each: false,
          });
        continue;
      }
      if (it.kind === "block" && RESOURCE_META_BLOCKS.has(it.name)) {
        if (it.name === "lifecycle") await this.checkLifecycle(it, schema, decl.file, where, scope, isData);
        else
          await this.checkBodyExprs(it.body ?? [], decl.file, `${where}.${it.name}`, {
            ...scope,
            self: true,
          });
      }
    }
    await this.checkBody(
      body.filter(
        (i) => !(i.kind === "attribute" ? RESOURCE_META.has(i.name) : RESOURCE_META_BLOCKS.has(i.name)),
      ),
      schema,
      decl.file,
      where,
      scope,
      decl.item.line,
    );
  }

  /** A body against a schema block: names, kinds, required ones, and every expression. */
  async checkBody(
    items: readonly Item[],
    schema: SchemaBlock,
    file: string,
    where: string,
    scope: Scope,
    line: number,
  ): Promise<void> {
    const written = new Map<string, number>();
    for (const it of items) {
      if (it.kind === "block" && it.name === "dynamic") {
        const name = it.labels[0] ?? "";
        written.set(name, (written.get(name) ?? 0) + 1000); // a dynamic block: any number
        this.counts.nestedBlocks++;
        const bt = schema.block_types?.[name];
        if (!bt) {
          this.add(
            schema.attributes?.[name] ? "argument-as-block" : "unknown-block",
            file,
            it.line,
            `${where}.dynamic.${name}`,
            schema.attributes?.[name]
              ? `"${name}" is an argument, not a block: a dynamic block cannot produce it`
              : `no block type "${name}" here`,
          );
          continue;
        }
        const dynBody = it.body ?? [];
        const iterator =
          /^"?([A-Za-z_][\w-]*)"?$/.exec(dynBody.find((i) => i.name === "iterator")?.expr ?? "")?.[1] ?? name;
        for (const a of dynBody) {
          if (a.kind === "attribute" && (a.name === "for_each" || a.name === "labels")) {
            await this.checkExpr(a.expr ?? "", file, a.line, `${where}.dynamic.${name}.${a.name}`, scope);
          } else if (a.kind === "attribute" && a.name === "iterator") {
            // a name, not an expression
          } else if (a.kind === "block" && a.name === "content") {
            await this.checkBody(
              a.body ?? [],
              bt.block,
              file,
              `${where}.${name}`,
              { ...scope, iterators: [...(scope.iterators ?? []), iterator] },
              a.line,
            );
          } else {
            this.add(
              "unknown-argument",
              file,
              a.line,
              `${where}.dynamic.${name}`,
              `"${a.name}" is not allowed in a dynamic block (for_each, iterator, labels, content)`,
            );
          }
        }
        continue;
      }
      written.set(it.name, (written.get(it.name) ?? 0) + 1);
      const attr = schema.attributes?.[it.name];
      const bt = schema.block_types?.[it.name];
      if (it.kind === "attribute") {
        this.counts.arguments++;
        if (bt) {
          this.add(
            "block-as-argument",
            file,
            it.line,
            `${where}.${it.name}`,
            `"${it.name}" is a block: write ${it.name} { … }, not ${it.name} = …`,
          );
        } else if (!attr) {
          this.add(
            "unknown-argument",
            file,
            it.line,
            `${where}.${it.name}`,
            `no argument "${it.name}" here (${this.schemas.versions})`,
          );
        } else if (!attr.required && !attr.optional) {
          this.add(
            "computed-only",
            file,
            it.line,
            `${where}.${it.name}`,
            `"${it.name}" is set by the provider (computed only): it cannot be written`,
          );
        }
        await this.checkExpr(it.expr ?? "", file, it.line, `${where}.${it.name}`, scope);
        continue;
      }
      this.counts.nestedBlocks++;
      if (attr) {
        this.add(
          "argument-as-block",
          file,
          it.line,
          `${where}.${it.name}`,
          `"${it.name}" is an argument: write ${it.name} = …, not a block`,
        );
        await this.checkBodyExprs(it.body ?? [], file, `${where}.${it.name}`, scope);
        continue;
      }
      if (!bt) {
        this.add("unknown-block", file, it.line, `${where}.${it.name}`, `no block type "${it.name}" here`);
        await this.checkBodyExprs(it.body ?? [], file, `${where}.${it.name}`, scope);
        continue;
      }
      await this.checkBody(it.body ?? [], bt.block, file, `${where}.${it.name}`, scope, it.line);
    }
    for (const [name, a] of Object.entries(schema.attributes ?? {})) {
      if (a.required && !written.has(name)) {
        this.add("missing-required", file, line, where, `the required argument "${name}" is missing`);
      }
    }
    for (const [name, bt] of Object.entries(schema.block_types ?? {})) {
      const n = written.get(name) ?? 0;
      if ((bt.min_items ?? 0) > 0 && n === 0) {
        this.add(
          "missing-required",
          file,
          line,
          where,
          `at least ${bt.min_items} "${name}" block(s) required`,
        );
      }
      if (bt.max_items !== undefined && n < 1000 && n > bt.max_items) {
        this.add(
          "too-many-blocks",
          file,
          line,
          `${where}.${name}`,
          `at most ${bt.max_items} "${name}" block(s), got ${n}`,
        );
      }
    }
  }

  async checkLifecycle(
    it: Item,
    schema: SchemaBlock,
    file: string,
    where: string,
    scope: Scope,
    isData: boolean,
  ): Promise<void> {
    for (const l of it.body ?? []) {
      if (l.kind === "block" && (l.name === "precondition" || l.name === "postcondition")) {
        await this.checkBodyExprs(l.body ?? [], file, `${where}.lifecycle.${l.name}`, {
          ...scope,
          self: l.name === "postcondition",
        });
        continue;
      }
      if (l.kind !== "attribute" || isData || !LIFECYCLE.has(l.name)) {
        this.add(
          "unknown-argument",
          file,
          l.line,
          `${where}.lifecycle`,
          `"${l.name}" is not a lifecycle setting${isData ? " of a data source" : ""}`,
        );
        continue;
      }
      if (l.name === "ignore_changes") {
        const expr = (l.expr ?? "").trim();
        if (expr === "all") continue;
        const inner = /^\[([\s\S]*)\]$/.exec(expr)?.[1] ?? "";
        for (const t of await traversals(`[${inner}]`)) {
          this.counts.ignoreChanges++;
          let shape: Shape | string = { kind: "block", block: schema };
          for (const s of t.steps) {
            if (typeof shape === "string") break;
            shape = stepInto(shape, s);
          }
          if (typeof shape === "string") {
            this.add(
              "bad-ignore-changes",
              file,
              l.line,
              `${where}.lifecycle.ignore_changes`,
              `${render(t.steps)} ${shape.slice(shape.indexOf(":") + 1)}`,
            );
          }
        }
      } else if (l.name === "replace_triggered_by") {
        await this.checkExpr(l.expr ?? "", file, l.line, `${where}.lifecycle.${l.name}`, scope);
      }
    }
  }

  async checkModuleCall(name: string, decl: Decl): Promise<void> {
    const mod = this.moduleDirs.get(name);
    for (const it of decl.item.body ?? []) {
      if (it.kind !== "attribute") continue;
      if (["source", "version", "providers", "count", "for_each", "depends_on"].includes(it.name)) {
        if (it.name === "count" || it.name === "for_each" || it.name === "depends_on")
          await this.checkExpr(it.expr ?? "", decl.file, it.line, `module.${name}.${it.name}`, {});
        continue;
      }
      this.counts.arguments++;
      if (mod && !mod.variables.has(it.name)) {
        this.add(
          "module-argument",
          decl.file,
          it.line,
          `module.${name}.${it.name}`,
          `the module declares no variable "${it.name}"`,
        );
      }
      await this.checkExpr(it.expr ?? "", decl.file, it.line, `module.${name}.${it.name}`, {});
    }
    if (!mod) return;
    const given = new Set((decl.item.body ?? []).map((i) => i.name));
    for (const [v, vd] of mod.variables) {
      const hasDefault = (vd.item.body ?? []).some((i) => i.name === "default");
      if (!hasDefault && !given.has(v)) {
        this.add(
          "module-argument",
          decl.file,
          decl.item.line,
          `module.${name}`,
          `the required variable "${v}" is not passed`,
        );
      }
    }
  }

  async checkExpr(expr: string, file: string, line: number, where: string, scope: Scope): Promise<void> {
    if (!/[A-Za-z_]/.test(expr)) return;
    for (const t of await traversals(expr))
      await this.checkTraversal(t.steps, t.bound, file, line, where, scope);
  }

  async checkTraversal(
    st: Step[],
    bound: Set<string>,
    file: string,
    line: number,
    where: string,
    scope: Scope,
    depth = 0,
  ): Promise<void> {
    const first = st[0];
    if (first?.kind !== "name") return;
    const root = first.name;
    if (bound.has(root) || scope.iterators?.includes(root)) return;
    this.counts.references++;
    const bad = (kind: FindingKind, message: string) =>
      this.add(kind, file, line, where, `${render(st)}: ${message}`);
    const name = (i: number) => (st[i]?.kind === "name" ? (st[i] as { name: string }).name : undefined);
    switch (root) {
      case "var":
        if (!this.d.variables.has(name(1) ?? ""))
          bad("unresolved-reference", `no variable "${name(1)}" is declared`);
        return;
      case "local": {
        const l = this.d.locals.get(name(1) ?? "");
        if (!l) {
          bad("unresolved-reference", `no local value "${name(1)}" is declared`);
          return;
        }
        // A local that is just a reference (or try(reference, fallback)): read through it.
        if (st.length > 2 && depth < 5) {
          const alias = /^(?:try\(\s*)?([A-Za-z_][\w.\-[\]"]*?)(?:\s*,\s*null\s*\))?$/.exec(
            l.expr.trim(),
          )?.[1];
          if (alias) {
            const ts = await traversals(alias);
            if (ts.length === 1 && render(ts[0]!.steps) === alias.replace(/\s/g, "")) {
              this.counts.references--;
              await this.checkTraversal(
                [...ts[0]!.steps, ...st.slice(2)],
                bound,
                file,
                line,
                where,
                scope,
                depth + 1,
              );
            }
          }
        }
        return;
      }
      case "module": {
        const m = name(1) ?? "";
        if (!this.d.modules.has(m)) {
          bad("unresolved-reference", `no module "${m}" is called`);
          return;
        }
        const out = name(2);
        const dir = this.moduleDirs.get(m);
        if (out !== undefined && dir && !dir.outputs.has(out))
          bad("unknown-attribute", `module "${m}" has no output "${out}"`);
        return;
      }
      case "path":
        if (!["module", "root", "cwd"].includes(name(1) ?? ""))
          bad("unresolved-reference", "path.module, path.root or path.cwd");
        return;
      case "terraform":
        if (name(1) !== "workspace")
          bad("unresolved-reference", "terraform.workspace is the only terraform.* value");
        return;
      case "count":
        if (!scope.count) bad("unresolved-reference", "count.index outside a block with count");
        return;
      case "each":
        if (!scope.each) bad("unresolved-reference", "each.* outside a block with for_each");
        return;
      case "self":
        if (!scope.self)
          bad("unresolved-reference", "self outside a provisioner, connection or postcondition");
        return;
      case "data": {
        const addr = `${name(1)}.${name(2)}`;
        const decl = this.d.data.get(addr);
        if (!decl) {
          bad("unresolved-reference", `no data "${name(1)}" "${name(2)}" is declared`);
          return;
        }
        this.checkAttributes(st.slice(3), decl, this.schemas.data[name(1) ?? ""], `data.${addr}`, bad);
        return;
      }
      default: {
        if (!root.includes("_")) {
          bad(
            "unresolved-reference",
            `"${root}" is not a known value (var., local., module., data., a resource…)`,
          );
          return;
        }
        const addr = `${root}.${name(1)}`;
        const decl = this.d.resources.get(addr);
        if (!decl) {
          bad("unresolved-reference", `no resource "${root}" "${name(1)}" is declared`);
          return;
        }
        this.checkAttributes(st.slice(2), decl, this.schemas.resources[root], addr, bad);
      }
    }
  }

  checkAttributes(
    rest: Step[],
    decl: Decl,
    schema: SchemaBlock | undefined,
    addr: string,
    bad: (kind: FindingKind, message: string) => void,
  ): void {
    const body = decl.item.body ?? [];
    const counted = body.some((i) => i.name === "count" || i.name === "for_each");
    let steps = rest;
    if (counted) {
      if (steps.length > 0 && steps[0]!.kind === "name") {
        bad(
          "instance-key",
          `${addr} has count/for_each: choose an instance (${addr}[0]) before reading an attribute`,
        );
        return;
      }
      steps = steps.slice(1);
    } else if (steps[0] && steps[0].kind !== "name") {
      bad("instance-key", `${addr} has no count or for_each: it takes no index`);
      return;
    }
    if (!schema) return;
    let shape: Shape | string = { kind: "block", block: schema };
    for (const s of steps) {
      shape = stepInto(shape, s);
      if (typeof shape === "string") {
        const [kind, ...msg] = shape.split(":");
        bad(kind as FindingKind, msg.join(":"));
        return;
      }
    }
  }
}

interface Scope {
  count?: boolean;
  each?: boolean;
  self?: boolean;
  /** dynamic-block iterators in scope. */
  iterators?: string[];
}

function render(st: readonly Step[]): string {
  return st
    .map((s, i) =>
      s.kind === "name" ? `${i === 0 ? "" : "."}${s.name}` : s.kind === "splat" ? "[*]" : `[${s.key}]`,
    )
    .join("");
}

/** Checks a Terraform directory (and, for module calls with a local source, reads that module). */
export async function checkTerraformDir(
  dir: string,
  schemas: Schemas,
  sources?: Readonly<Record<string, string>>,
): Promise<CheckResult> {
  const c = new Checker(await readDir(dir, sources), schemas);
  await c.run();
  return { findings: c.findings, counts: c.counts };
}

export const FIXTURES = join(dirname(new URL(import.meta.url).pathname), "provider-schema");
