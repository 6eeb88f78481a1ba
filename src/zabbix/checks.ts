/** Checks and descriptions of a Zabbix read's inputs. */
import { InvalidInputError } from "../contract/errors.js";
import type { TimeWindow } from "../core/types.js";
import type { HostSelector } from "./model.js";

/** `group pix, tag asg=gatewaypix-gray`: a selector as messages name it. */
export function describe(s: HostSelector): string {
  const parts = [
    ...(s.groups ?? []).map((g) => `group ${g}`),
    ...(s.tags ?? []).map((t) => `tag ${t.tag}=${t.value}`),
  ];
  return parts.join(", ");
}

export function checkKey(field: string, key: string): void {
  if (typeof key !== "string" || key.trim() === "") {
    throw new InvalidInputError([{ field, message: "an item key is required" }]);
  }
}

export function checkWindows(windows: readonly TimeWindow[]): void {
  const bad = windows.findIndex(
    (w) => !Number.isFinite(w.start) || !Number.isFinite(w.end) || w.end <= w.start,
  );
  if (bad >= 0) {
    throw new InvalidInputError([
      { field: `windows[${bad}]`, message: "needs finite start < end (epoch ms)" },
    ]);
  }
}
