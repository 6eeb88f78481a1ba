/** HTTP details of the weighted proxy: hop-by-hop headers, the stickiness cookie, upstream errors. */
import type { IncomingMessage } from "node:http";
import type { Pool } from "../core/types.js";
import { POOL_HEADER, STICKY_COOKIE } from "./proxy-config.js";

export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "expect",
  "http2-settings",
]);

export function upstreamHeaders(req: IncomingMessage): string[] {
  const out: string[] = [];
  const h = req.headers;
  let forwarded: string | undefined;
  for (const name in h) {
    const value = h[name];
    if (value === undefined || HOP_BY_HOP.has(name) || name === POOL_HEADER) continue;
    if (name === "x-forwarded-for") {
      forwarded = Array.isArray(value) ? value.join(", ") : value;
      continue;
    }
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  const client = req.socket.remoteAddress ?? "";
  out.push("x-forwarded-for", forwarded === undefined ? client : `${forwarded}, ${client}`);
  out.push("x-forwarded-proto", "http");
  return out;
}

export function readStickyCookie(header: string | undefined): Pool | null {
  if (header === undefined) return null;
  const at = header.indexOf(`${STICKY_COOKIE}=`);
  if (at === -1 || (at > 0 && header[at - 1] !== " " && header[at - 1] !== ";")) return null;
  const from = at + STICKY_COOKIE.length + 1;
  if (header.startsWith("gray", from) && (header.length === from + 4 || header[from + 4] === ";"))
    return "gray";
  if (header.startsWith("stable", from) && (header.length === from + 6 || header[from + 6] === ";"))
    return "stable";
  return null;
}

export function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export function isTimeout(e: unknown): boolean {
  const code = errorCode(e);
  return (
    code === "UND_ERR_HEADERS_TIMEOUT" ||
    code === "UND_ERR_CONNECT_TIMEOUT" ||
    code === "UND_ERR_BODY_TIMEOUT"
  );
}

/** Errors raised by undici about the upstream side (its codes all start with UND_ERR). */
export function isUpstreamError(e: unknown): boolean {
  return errorCode(e)?.startsWith("UND_ERR") === true;
}

export function describeError(e: unknown): string {
  const code = errorCode(e);
  const message = e instanceof Error ? e.message : String(e);
  return code !== undefined && !message.includes(code) ? `${code} ${message}` : message;
}
