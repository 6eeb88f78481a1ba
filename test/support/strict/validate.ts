/**
 * Checks a decoded request (wire.ts) against its input shape in AWS's model: required members,
 * unions, enums, numeric ranges, string lengths and patterns, list and map sizes, map keys. The
 * messages are AWS's own ("Member must have value less than or equal to 999").
 *
 * Patterns: the models' patterns are Java regular expressions that AWS applies to the WHOLE value
 * (a tag value with a character outside `[\p{L}\p{Z}\p{N}_.:/=+\-@]*` is refused although the
 * pattern matches the empty string), so they are anchored here. A pattern JavaScript cannot compile
 * is counted (`uncheckedPatterns`) instead of guessed at.
 */
import type { Issue } from "./issues.js";
import type { ServiceModel, Shape } from "./models.js";
import { shapeOf } from "./models.js";
import { pathOf } from "./wire.js";

const patterns = new Map<string, RegExp | null>();
/** Patterns met that JavaScript could not compile (so not checked), for the report. */
export const uncheckedPatterns = new Set<string>();

function compiled(pattern: string): RegExp | null {
  if (patterns.has(pattern)) return patterns.get(pattern)!;
  let re: RegExp | null = null;
  for (const flags of ["u", ""]) {
    try {
      re = new RegExp(`^(?:${pattern})$`, flags);
      break;
    } catch {
      // try the next flags
    }
  }
  if (re === null) uncheckedPatterns.add(pattern);
  patterns.set(pattern, re);
  return re;
}

const invalid = (path: string, message: string, value: unknown): Issue => ({
  path,
  kind: "invalid",
  message,
  value,
  effect: "refused",
});

/** Appends to `issues` what breaks the model in `value` (a value of shape `shapeName`). */
export function validateValue(
  model: ServiceModel,
  shapeName: string,
  value: unknown,
  path: string,
  issues: Issue[],
): void {
  if (value === undefined) return;
  const shape = shapeOf(model, shapeName);
  switch (shape.type) {
    case "structure": {
      if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Date)
        return;
      const v = value as Record<string, unknown>;
      for (const r of shape.required ?? []) {
        if (v[r] === undefined || v[r] === null) {
          issues.push({
            path: pathOf(path, r),
            kind: "missing",
            message: "Member must not be null",
            effect: "refused",
          });
        }
      }
      if (shape.union) {
        const set = Object.keys(shape.members ?? {}).filter((m) => v[m] !== undefined);
        if (set.length !== 1) {
          issues.push(
            invalid(path || "input", `exactly one member must be set (a union), got ${set.length}`, set),
          );
        }
      }
      for (const [name, ref] of Object.entries(shape.members ?? {})) {
        if (v[name] !== undefined) validateValue(model, ref.shape, v[name], pathOf(path, name), issues);
      }
      return;
    }
    case "list": {
      if (!Array.isArray(value)) return;
      size(shape, value.length, path, value, issues);
      value.forEach((e, i) => {
        validateValue(model, shape.member!.shape, e, `${path}.${i + 1}.member`, issues);
      });
      return;
    }
    case "map": {
      if (typeof value !== "object" || value === null) return;
      const entries = Object.entries(value as Record<string, unknown>);
      size(shape, entries.length, path, value, issues);
      for (const [k, e] of entries) {
        validateValue(model, shape.key!.shape, k, `${path}.key`, issues);
        validateValue(model, shape.value!.shape, e, `${path}.${k}`, issues);
      }
      return;
    }
    case "string": {
      if (typeof value !== "string") return;
      if (shape.enum && !shape.enum.includes(value)) {
        issues.push(invalid(path, `Member must satisfy enum value set: [${shape.enum.join(", ")}]`, value));
      }
      size(shape, [...value].length, path, value, issues);
      if (shape.pattern !== undefined) {
        const re = compiled(shape.pattern);
        if (re && !re.test(value)) {
          issues.push(
            invalid(path, `Member must satisfy regular expression pattern: ${shape.pattern}`, value),
          );
        }
      }
      return;
    }
    case "integer":
    case "long":
    case "double":
    case "float": {
      if (typeof value !== "number") return;
      if (shape.min !== undefined && value < shape.min) {
        issues.push(invalid(path, `Member must have value greater than or equal to ${shape.min}`, value));
      }
      if (shape.max !== undefined && value > shape.max) {
        issues.push(invalid(path, `Member must have value less than or equal to ${shape.max}`, value));
      }
      return;
    }
    case "blob": {
      const n = Buffer.isBuffer(value)
        ? value.length
        : typeof value === "string"
          ? Buffer.byteLength(value)
          : 0;
      size(shape, n, path, Buffer.isBuffer(value) ? `<${n} bytes>` : value, issues);
      return;
    }
    default:
      return;
  }
}

/** Length (strings, blobs, lists, maps) against the shape's min/max. */
function size(shape: Shape, n: number, path: string, value: unknown, issues: Issue[]): void {
  if (shape.min !== undefined && n < shape.min) {
    issues.push(invalid(path, `Member must have length greater than or equal to ${shape.min}`, value));
  }
  if (shape.max !== undefined && n > shape.max) {
    issues.push(invalid(path, `Member must have length less than or equal to ${shape.max}`, value));
  }
}
