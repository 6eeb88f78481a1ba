/**
 * The STRUCTURE of HCL native syntax, which hcl2json cannot give: whether a name was written as a
 * block (`health_check { … }`) or as an argument (`health_check = { … }` / `= [{ … }]`), with line
 * numbers and each argument's expression text. hcl2json turns a block and an argument holding a list
 * of objects into the same JSON, so "block written as an argument" is invisible in its output.
 *
 * It only splits bodies into items (comments, strings with `${…}`, heredocs and brackets are skipped
 * correctly); the expressions themselves are parsed by HashiCorp's parser (hcl2json's
 * getExpressionAst). `crossCheck` compares every body's item names with hcl2json's parse of the same
 * file, so a mistake here fails loudly instead of hiding a finding.
 */

export interface Item {
  readonly kind: "attribute" | "block";
  readonly name: string;
  /** Block labels (`resource "aws_lb" "x"` → ["aws_lb", "x"]). */
  readonly labels: readonly string[];
  /** 1-based line of the item's name. */
  readonly line: number;
  /** Attribute: the expression's source text. */
  readonly expr?: string;
  /** Block: its items. */
  readonly body?: readonly Item[];
}

class Scanner {
  pos = 0;
  constructor(readonly src: string) {}

  line(at = this.pos): number {
    let n = 1;
    for (let i = 0; i < at && i < this.src.length; i++) if (this.src.charCodeAt(i) === 10) n++;
    return n;
  }

  fail(what: string): never {
    throw new Error(`HCL structure: ${what} at line ${this.line()}`);
  }

  peek(o = 0): string {
    return this.src[this.pos + o] ?? "";
  }

  /** Skips spaces, tabs and comments; newlines too when `newlines`. */
  trivia(newlines: boolean): void {
    for (;;) {
      const c = this.peek();
      if (c === " " || c === "\t" || c === "\r" || (newlines && c === "\n")) {
        this.pos++;
      } else if (c === "#" || (c === "/" && this.peek(1) === "/")) {
        while (this.pos < this.src.length && this.peek() !== "\n") this.pos++;
      } else if (c === "/" && this.peek(1) === "*") {
        const end = this.src.indexOf("*/", this.pos + 2);
        if (end < 0) this.fail("unterminated comment");
        this.pos = end + 2;
      } else {
        return;
      }
    }
  }

  ident(): string {
    const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(this.src.slice(this.pos, this.pos + 200));
    if (!m) this.fail(`expected a name, found ${JSON.stringify(this.peek())}`);
    this.pos += m[0].length;
    return m[0];
  }

  /** A quoted string, returned unquoted (labels hold no escapes worth decoding beyond \\ and \"). */
  string(): string {
    const start = this.pos;
    this.skipString();
    return this.src.slice(start + 1, this.pos - 1).replace(/\\(["\\])/g, "$1");
  }

  skipString(): void {
    if (this.peek() !== '"') this.fail("expected a string");
    this.pos++;
    for (;;) {
      const c = this.peek();
      if (c === "") this.fail("unterminated string");
      if (c === "\\") {
        this.pos += 2;
      } else if (c === '"') {
        this.pos++;
        return;
      } else if ((c === "$" || c === "%") && this.peek(1) === "{") {
        if (this.src[this.pos - 1] === c && this.src[this.pos - 2] !== c) {
          // `$${` / `%%{` is an escaped literal
          this.pos += 2;
          continue;
        }
        this.pos += 2;
        this.skipCode("}");
      } else {
        this.pos++;
      }
    }
  }

  /** `<<EOT` / `<<-EOT` … a line holding only `EOT`. */
  skipHeredoc(): void {
    const m = /^<<-?([A-Za-z_][A-Za-z0-9_]*)[ \t]*\r?\n/.exec(this.src.slice(this.pos, this.pos + 200));
    if (!m) this.fail("bad heredoc");
    this.pos += m[0].length;
    const re = new RegExp(`^[ \\t]*${m[1]}[ \\t]*$`, "m");
    const rest = this.src.slice(this.pos);
    const end = re.exec(rest);
    if (!end) this.fail(`unterminated heredoc ${m[1]}`);
    this.pos += end.index + end[0].length;
  }

  /**
   * Skips expression code up to (and including) `close` at depth 0; with close "\n", stops BEFORE a
   * newline or a `}` at depth 0 (the end of an argument).
   */
  skipCode(close: "}" | "\n"): void {
    let depth = 0;
    for (;;) {
      const c = this.peek();
      if (c === "") {
        if (close === "\n") return;
        this.fail("unterminated expression");
      }
      if (c === '"') {
        this.skipString();
      } else if (
        c === "<" &&
        this.peek(1) === "<" &&
        /^<<-?[A-Za-z_]/.test(this.src.slice(this.pos, this.pos + 4))
      ) {
        this.skipHeredoc();
      } else if (c === "#" || (c === "/" && (this.peek(1) === "/" || this.peek(1) === "*"))) {
        if (c === "/" && this.peek(1) === "*") {
          this.trivia(false);
        } else {
          while (this.pos < this.src.length && this.peek() !== "\n") this.pos++;
        }
      } else if (c === "(" || c === "[" || c === "{") {
        depth++;
        this.pos++;
      } else if (c === ")" || c === "]" || c === "}") {
        if (depth === 0) {
          if (close === "}" && c === "}") {
            this.pos++;
            return;
          }
          if (close === "\n" && c === "}") return;
          this.fail(`unbalanced ${c}`);
        }
        depth--;
        this.pos++;
      } else if (c === "\n" && depth === 0 && close === "\n") {
        return;
      } else {
        this.pos++;
      }
    }
  }

  /** Items until `}` (consumed) or the end of the file. */
  body(top: boolean): Item[] {
    const items: Item[] = [];
    for (;;) {
      this.trivia(true);
      const c = this.peek();
      if (c === "") {
        if (!top) this.fail("unterminated block");
        return items;
      }
      if (c === "}") {
        if (top) this.fail("unexpected }");
        this.pos++;
        return items;
      }
      const line = this.line();
      const name = this.ident();
      this.trivia(false);
      if (this.peek() === "=" && this.peek(1) !== "=") {
        this.pos++;
        this.trivia(false);
        const start = this.pos;
        this.skipCode("\n");
        items.push({
          kind: "attribute",
          name,
          labels: [],
          line,
          expr: this.src.slice(start, this.pos).trim(),
        });
        continue;
      }
      const labels: string[] = [];
      while (this.peek() !== "{") {
        if (this.peek() === '"') labels.push(this.string());
        else labels.push(this.ident());
        this.trivia(false);
      }
      this.pos++;
      items.push({ kind: "block", name, labels, line, body: this.body(false) });
    }
  }
}

/** The items of a .tf file. */
export function scanFile(text: string): Item[] {
  return new Scanner(text).body(true);
}

/**
 * Compares the scanner's structure of a file with hcl2json's parse of it: every body must hold the
 * same names. Returns the differences (empty when they agree).
 */
export function crossCheck(items: readonly Item[], parsed: Record<string, unknown>, where = ""): string[] {
  const out: string[] = [];
  // hcl2json nests labelled blocks: resource → type → name → [body]; dynamic → label → [body].
  const expected = new Map<string, unknown>();
  const byName = new Map<string, Item[]>();
  for (const it of items) byName.set(it.name, [...(byName.get(it.name) ?? []), it]);
  for (const [name, its] of byName) {
    let value: unknown = parsed[name];
    if (value === undefined) {
      out.push(`${where}${name}: in the source, not in hcl2json's parse`);
      continue;
    }
    expected.set(name, value);
    const blocks = its.filter((i) => i.kind === "block");
    if (blocks.length === 0) continue;
    blocks.forEach((b, k) => {
      let v: unknown = value;
      for (const l of b.labels) v = (v as Record<string, unknown>)?.[l];
      const arr = Array.isArray(v) ? v : null;
      // Blocks of one name (and the same labels) are one array in hcl2json, in source order.
      const same = blocks
        .slice(0, k)
        .filter((o) => o.labels.join("\u0000") === b.labels.join("\u0000")).length;
      const body = arr ? arr[same] : undefined;
      if (!body || typeof body !== "object") {
        out.push(
          `${where}${name}${b.labels.map((l) => `.${l}`).join("")}: a block in the source, not in hcl2json's parse`,
        );
        return;
      }
      if (name === "locals") return;
      out.push(...crossCheck(b.body ?? [], body as Record<string, unknown>, `${where}${name}.`));
    });
    value = undefined;
  }
  for (const k of Object.keys(parsed)) {
    if (!byName.has(k)) out.push(`${where}${k}: in hcl2json's parse, not found by the structure scanner`);
  }
  return out;
}
