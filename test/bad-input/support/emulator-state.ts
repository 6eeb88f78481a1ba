/**
 * The emulator's whole state, for "this run wrote nothing to AWS": moto's own dump of every backend
 * (`GET /moto-api/data.json`) plus every item of every DynamoDB table (the dump does not show item
 * contents), normalised for what reads change in moto without changing AWS:
 * - the dump lists the live Python objects of each model, so reads that build temporary model objects
 *   (DescribeTargetHealth, DescribeImages, GetItem) add copies of existing ones: each model's list is
 *   compared as a set of distinct objects;
 * - a load balancer moves from `provisioning` to `active` on its first describe;
 * - with IAM enforcement, every authenticated call stamps its access key's and role's "last used".
 */
import { DynamoDBClient, ListTablesCommand, ScanCommand } from "@aws-sdk/client-dynamodb";

export interface EmulatorState {
  /** "service.model" → moto's list of that model's objects, as dumped (compared lazily). */
  readonly models: Readonly<Record<string, readonly unknown[]>>;
  /** "service.model" → the list as JSON text: equal text, equal list (the common case, cheap). */
  readonly text: Readonly<Record<string, string>>;
  /** table → sorted items (JSON). */
  readonly items: Readonly<Record<string, readonly string[]>>;
}

/** Fields a read changes in moto without changing AWS. */
const VOLATILE = new Set(["last_used", "last_used_region", "role_last_used"]);

/** JSON with sorted keys (and without the volatile fields), so equal objects give equal text. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.keys(v)
      .filter((k) => !VOLATILE.has(k))
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

export async function emulatorState(
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  region = "sa-east-1",
): Promise<EmulatorState> {
  const res = await fetch(`${endpoint}/moto-api/data.json`);
  if (!res.ok) throw new Error(`moto-api/data.json answered ${res.status}`);
  const text = (await res.text()).replaceAll('"provisioning"', '"active"');
  const raw = JSON.parse(text) as Record<string, Record<string, unknown[]>>;
  const models: Record<string, unknown[]> = {};
  const texts: Record<string, string> = {};
  for (const [service, byModel] of Object.entries(raw)) {
    for (const [model, list] of Object.entries(byModel)) {
      models[`${service}.${model}`] = list ?? [];
      texts[`${service}.${model}`] = JSON.stringify(list ?? []);
    }
  }
  const dynamo = new DynamoDBClient({ endpoint, region, credentials, maxAttempts: 2 });
  const items: Record<string, string[]> = {};
  try {
    const tables = (await dynamo.send(new ListTablesCommand({}))).TableNames ?? [];
    for (const table of tables) {
      const out = await dynamo.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
      items[table] = (out.Items ?? []).map(canonical).sort();
    }
  } finally {
    dynamo.destroy();
  }
  return { models, text: texts, items };
}

/** What differs between two states, one line per model or table (empty: nothing changed). */
export function stateDiff(before: EmulatorState, after: EmulatorState): string[] {
  const out: string[] = [];
  for (const key of new Set([...Object.keys(before.text), ...Object.keys(after.text)])) {
    if (before.text[key] === after.text[key]) continue;
    // Compared as sets of distinct objects: temporary copies made by reads are not changes.
    const x = new Set((before.models[key] ?? []).map(canonical));
    const y = new Set((after.models[key] ?? []).map(canonical));
    const added = [...y].filter((v) => !x.has(v));
    const removed = [...x].filter((v) => !y.has(v));
    if (added.length + removed.length > 0) {
      out.push(`${key}: +${added.length} -${removed.length} ${(added[0] ?? removed[0] ?? "").slice(0, 300)}`);
    }
  }
  for (const t of new Set([...Object.keys(before.items), ...Object.keys(after.items)])) {
    if (canonical(before.items[t] ?? null) !== canonical(after.items[t] ?? null)) {
      out.push(`dynamodb item(s) of ${t} changed`);
    }
  }
  return out;
}
