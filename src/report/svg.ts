/**
 * A small SVG writer: elements as strings, every attribute value and text escaped, numbers rounded
 * so the output is stable and compact. No DOM, no browser: the chart is built on any Node.
 *
 * GitHub shows SVG files through <img>, which runs no script and loads no external resource; the
 * writer therefore has no way to emit <script>, event-handler attributes or external references.
 */

export type AttrValue = string | number | boolean | null | undefined;
export type Attrs = Readonly<Record<string, AttrValue>>;

// XML 1.0 forbids most C0 control characters even when escaped; log lines may carry them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters to remove
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/** Escapes text for element content and attribute values, and drops characters XML cannot hold. */
export function escapeXml(text: string): string {
  return text
    .replace(INVALID_XML, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Rounds a coordinate to two decimals and prints it without trailing zeros. */
export function num(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`not a finite coordinate: ${n}`);
  const r = Math.round(n * 100) / 100;
  return Object.is(r, -0) ? "0" : String(r);
}

const NAME = /^[a-zA-Z_][\w:.-]*$/;
/** Attributes that would run code or fetch something; the writer refuses them outright. */
const FORBIDDEN_ATTR = /^(on|href$|xlink:href$|src$)/i;
const FORBIDDEN_ELEMENT = new Set(["script", "foreignObject", "iframe", "image", "use", "style"]);

function attrs(a: Attrs): string {
  let out = "";
  for (const [k, v] of Object.entries(a)) {
    if (v === undefined || v === null || v === false) continue;
    if (!NAME.test(k)) throw new Error(`invalid attribute name ${JSON.stringify(k)}`);
    if (FORBIDDEN_ATTR.test(k)) throw new Error(`attribute ${k} is not allowed in report charts`);
    const value = v === true ? k : typeof v === "number" ? num(v) : escapeXml(v);
    out += ` ${k}="${value}"`;
  }
  return out;
}

/** One element; children are already-rendered strings (use `text()` for text content). */
export function el(name: string, a: Attrs = {}, ...children: (string | null | undefined | false)[]): string {
  if (!NAME.test(name)) throw new Error(`invalid element name ${JSON.stringify(name)}`);
  if (FORBIDDEN_ELEMENT.has(name)) throw new Error(`element <${name}> is not allowed in report charts`);
  const body = children.filter((c): c is string => typeof c === "string" && c !== "").join("");
  return body === "" ? `<${name}${attrs(a)}/>` : `<${name}${attrs(a)}>${body}</${name}>`;
}

/** Escaped text content. */
export function text(s: string): string {
  return escapeXml(s);
}

/** A complete standalone SVG document with a white background (readable in light and dark pages). */
export function svgDocument(
  width: number,
  height: number,
  title: string,
  description: string,
  ...children: string[]
): string {
  const root = el(
    "svg",
    {
      xmlns: "http://www.w3.org/2000/svg",
      width,
      height,
      viewBox: `0 0 ${num(width)} ${num(height)}`,
      role: "img",
      "aria-labelledby": "title desc",
      "font-family": "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif",
      "font-size": 12,
    },
    el("title", { id: "title" }, text(title)),
    el("desc", { id: "desc" }, text(description)),
    el("rect", { x: 0, y: 0, width, height, fill: "#ffffff" }),
    ...children,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n${root}\n`;
}

/** Shortens a label to `max` characters with an ellipsis. */
export function truncate(s: string, max: number): string {
  const clean = s.replace(/\s+/g, " ").trim();
  return clean.length <= max ? clean : `${clean.slice(0, Math.max(0, max - 1))}…`;
}
