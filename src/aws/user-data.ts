/**
 * The container image reference inside a launch template's user data, as pure functions.
 *
 * A release changes exactly one thing in the user data: the application's image reference. It is
 * recognised in two shapes, in this order of preference:
 *  1. an assignment whose variable names the image: `IMAGE=<ref>`, `APP_IMAGE="<ref>"`,
 *     `export CONTAINER_IMAGE='<ref>'` (shell, env files, systemd `Environment=IMAGE=<ref>`);
 *  2. the image argument of `docker|podman|nerdctl run|create|pull …` (a literal reference with a
 *     tag or digest; a `$VARIABLE` is not a reference).
 * Assignments win, so sidecars started with a literal `docker run` do not make the application's
 * `IMAGE=` ambiguous. The same reference written several times (IMAGE=… and a `docker pull` of the
 * same string) is one reference, replaced everywhere. Anything else — none found, two different
 * references of the same shape, compressed or multipart user data — is refused, and nothing changes.
 */
import { IMAGE_REF } from "../engine/options/release.js";

export type ImageReferenceResult =
  | {
      readonly kind: "found";
      /** The reference as written. */
      readonly ref: string;
      /** How it was recognised, for messages (`IMAGE= on line 3`). */
      readonly how: string;
      /** Character offsets of every occurrence to replace. */
      readonly spans: readonly { readonly start: number; readonly end: number }[];
    }
  | { readonly kind: "none"; readonly why: string }
  | { readonly kind: "ambiguous"; readonly refs: readonly string[]; readonly how: string };

const ASSIGNMENT =
  /^[ \t]*(?:export[ \t]+|Environment=["']?)?([A-Za-z_][A-Za-z0-9_]*)=(["']?)([^\s"'`$;|&<>]+)\2/gm;
const CONTAINER_CLI = /\b(?:docker|podman|nerdctl)(?:[ \t]+[-\w.=/:]+)*?[ \t]+(?:run|create|pull)\b([^\n]*)/g;

/** A reference precise enough to be the application's image: it has a tag or a digest. */
function looksLikeImage(token: string): boolean {
  if (!IMAGE_REF.test(token)) return false;
  const lastSlash = token.lastIndexOf("/");
  const name = token.slice(lastSlash + 1);
  const repository = token.replace(/@sha256:.*$/, "").replace(/:[\w.-]+$/, "");
  // `8080:8080` (a port mapping) parses as name:tag; a repository always has a letter.
  if (!/[a-z]/.test(repository)) return false;
  return name.includes(":") || token.includes("@sha256:");
}

function isImageVariable(name: string): boolean {
  return /^(?:[A-Z0-9_]*_)?IMAGE(?:_(?:REF|URI|NAME))?$/i.test(name);
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split("\n").length;
}

/** Finds the image reference in decoded user data. */
export function findImageReference(script: string): ImageReferenceResult {
  if (script.startsWith("\x1f\x8b")) {
    return {
      kind: "none",
      why: "the user data is gzip-compressed; gray-deploy edits plain-text user data only",
    };
  }
  if (
    /^Content-Type:\s*multipart\//im.test(script) &&
    /^Content-Transfer-Encoding:\s*base64/im.test(script)
  ) {
    return { kind: "none", why: "the user data is a MIME multipart document with base64 parts" };
  }

  const assigned: { ref: string; start: number; line: number }[] = [];
  for (const m of script.matchAll(ASSIGNMENT)) {
    const [, name, , value] = m;
    if (!isImageVariable(name!) || !looksLikeImage(value!)) continue;
    const start = m.index + m[0].lastIndexOf(value!);
    assigned.push({ ref: value!, start, line: lineOf(script, m.index) });
  }
  if (assigned.length > 0) return decide(script, assigned, "assignment");

  const run: { ref: string; start: number; line: number }[] = [];
  for (const m of script.matchAll(CONTAINER_CLI)) {
    const args = m[1] ?? "";
    const argsStart = m.index + m[0].length - args.length;
    for (const t of args.matchAll(/[^\s"']+/g)) {
      const token = t[0];
      if (token.startsWith("-") || token.includes("=") || token.startsWith("$")) continue;
      if (looksLikeImage(token)) {
        run.push({ ref: token, start: argsStart + t.index, line: lineOf(script, m.index) });
        break; // the first image-like argument is the image; the rest are the container's command
      }
    }
  }
  if (run.length > 0) return decide(script, run, "container command");
  return {
    kind: "none",
    why: "no `IMAGE=<ref>` assignment and no `docker run … <ref>` with a tagged or digest-qualified reference",
  };
}

function decide(
  script: string,
  found: readonly { ref: string; start: number; line: number }[],
  shape: string,
): ImageReferenceResult {
  const refs = [...new Set(found.map((f) => f.ref))];
  if (refs.length > 1) {
    return {
      kind: "ambiguous",
      refs,
      how: `${shape}s on lines ${found.map((f) => f.line).join(", ")}`,
    };
  }
  const ref = refs[0]!;
  // Every literal occurrence of the same reference changes with it (e.g. a `docker pull` of the IMAGE= value).
  const spans: { start: number; end: number }[] = [];
  for (let at = script.indexOf(ref); at !== -1; at = script.indexOf(ref, at + ref.length)) {
    const before = script[at - 1];
    const after = script[at + ref.length];
    const bounded = (c: string | undefined) => c === undefined || /[\s"'=]/.test(c);
    if (bounded(before) && bounded(after)) spans.push({ start: at, end: at + ref.length });
  }
  const lines = [...new Set(found.map((f) => f.line))];
  return { kind: "found", ref, how: `${shape} on line ${lines.join(", ")}`, spans };
}

/** The user data with the found reference replaced by `image` everywhere it occurs. */
export function replaceImageReference(
  script: string,
  found: Extract<ImageReferenceResult, { kind: "found" }>,
  image: string,
): string {
  let out = "";
  let last = 0;
  for (const s of found.spans) {
    out += script.slice(last, s.start) + image;
    last = s.end;
  }
  return out + script.slice(last);
}

export const decodeUserData = (b64: string): string => Buffer.from(b64, "base64").toString("utf8");
export const encodeUserData = (script: string): string => Buffer.from(script, "utf8").toString("base64");
