/**
 * Links in docs/: every `#anchor` names a heading of the same document (with GitHub's slugs, accents
 * kept, as the Portuguese runbook needs), and every relative link points at a file that exists.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

const DOCS = new URL("../../docs/", import.meta.url).pathname;

/** GitHub's heading slug (github-slugger): lower case, punctuation and symbols dropped, spaces → -. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = !fenced && line.match(/^#{1,6}\s+(.*)$/);
    if (!m) continue;
    const base = slug(m[1]!.trim());
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

describe("links in docs/", () => {
  const files = readdirSync(DOCS).filter((f) => f.endsWith(".md"));

  it("slugs headings as GitHub does", () => {
    expect(slug("9.3 `rollback-failed` (exit 7)")).toBe("93-rollback-failed-exit-7");
    expect(slug("5. Lendo o `status`, o relatório e as notificações")).toBe(
      "5-lendo-o-status-o-relatório-e-as-notificações",
    );
  });

  for (const file of files) {
    it(`${file}: every anchor and relative link resolves`, () => {
      const text = readFileSync(join(DOCS, file), "utf8");
      const known = anchors(text);
      const broken: string[] = [];
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue; // an external URL
        const [path, hash] = target.split("#");
        if (path) {
          if (!existsSync(join(dirname(join(DOCS, file)), path))) broken.push(`${target}: no such file`);
          continue;
        }
        if (hash !== undefined && !known.has(hash)) broken.push(`#${hash}: no such heading`);
      }
      expect(broken).toEqual([]);
    });
  }
});
