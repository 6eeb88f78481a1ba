/**
 * The RolloutStore port over DynamoDB: one item per scope (the weighted rule's ARN, or the listener's),
 * in the table the Terraform module (or `gray-deploy bootstrap`) creates — partition key `scope` (S),
 * TTL on `expiresAt`.
 *
 * Item attributes:
 *   scope (S) · revision (N) · rolloutId (S) · phase (S) · state (S: the RolloutState as JSON, so it
 *   round-trips exactly) · owner (M, absent when nobody runs it) · leaseUntil (N, epoch ms) ·
 *   context (S: JSON the target needs to drive the rollout from another process — the AWS resources,
 *   written when the rollout is acquired) · expiresAt (N, epoch s, only once the rollout ended).
 *
 * Every write is conditional: `acquire` only when no unfinished rollout holds the scope
 * (`attribute_not_exists(scope) OR phase IN (terminal phases)`), `save` only on the expected revision
 * of the same rollout. Of two concurrent writers exactly one wins; the loser gets a StateError
 * (save) or `held` (acquire). Reads are strongly consistent.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { PreflightError, ProviderError, StateError } from "../contract/errors.js";
import { isTerminal, type RolloutState, TERMINAL_PHASES } from "../core/state.js";
import type { AcquireResult, OwnerInfo, RolloutStore, StoredRollout } from "../ports/index.js";
import type { AwsApi } from "./api.js";
import { type AwsCallError, isAwsCode } from "./errors.js";

/** How long an ended rollout stays in the table before DynamoDB's TTL removes it. */
export const ENDED_RETENTION_S = 90 * 86_400;
/** DynamoDB refuses items over 400 KB; stay clear of it with a clear error. */
const MAX_STATE_BYTES = 350_000;

export interface DynamoStoreOptions {
  readonly api: AwsApi;
  readonly table: string;
  /** Written with the rollout when it is acquired (what another process needs to drive it). */
  readonly context?: Readonly<Record<string, unknown>>;
}

/** A stored rollout plus the context written with it. */
export interface StoredItem extends StoredRollout {
  readonly context: Readonly<Record<string, unknown>> | null;
}

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });

function ownerValue(owner: OwnerInfo): AttributeValue {
  return { M: { id: S(owner.id), host: S(owner.host), pid: N(owner.pid), verb: S(owner.verb) } };
}

function parseItem(item: Record<string, AttributeValue>): StoredItem {
  const stateJson = item.state?.S;
  const revision = Number(item.revision?.N);
  if (stateJson === undefined || !Number.isInteger(revision)) {
    throw new StateError(
      `the state item of ${item.scope?.S ?? "?"} is not gray-deploy's (no state or revision)`,
    );
  }
  const o = item.owner?.M;
  const owner: OwnerInfo | null =
    o === undefined
      ? null
      : { id: o.id?.S ?? "", host: o.host?.S ?? "", pid: Number(o.pid?.N ?? 0), verb: o.verb?.S ?? "" };
  let context: Record<string, unknown> | null = null;
  if (item.context?.S !== undefined) context = JSON.parse(item.context.S) as Record<string, unknown>;
  return {
    state: JSON.parse(stateJson) as RolloutState,
    revision,
    owner,
    leaseUntil: Number(item.leaseUntil?.N ?? 0),
    context,
  };
}

export class DynamoRolloutStore implements RolloutStore {
  readonly #o: DynamoStoreOptions;

  constructor(options: DynamoStoreOptions) {
    this.#o = options;
  }

  get table(): string {
    return this.#o.table;
  }

  #missing(e: unknown): never {
    if (isAwsCode(e, "ResourceNotFoundException")) {
      throw new PreflightError(`the state table ${this.#o.table} does not exist in this region`, {
        field: "stateTable",
        fix: `create it: gray-deploy bootstrap --target aws --state-table ${this.#o.table} (or apply the Terraform module), or correct --state-table/--region`,
        cause: e,
      });
    }
    throw e;
  }

  #stateJson(state: RolloutState): string {
    const json = JSON.stringify(state);
    if (Buffer.byteLength(json) > MAX_STATE_BYTES) {
      throw new ProviderError(
        `rollout ${state.id}'s state is ${Buffer.byteLength(json)} bytes, too large for one DynamoDB item`,
        { fix: "this is a bug (the decision log grew without bound): report it with the rollout's report" },
      );
    }
    return json;
  }

  async acquire(state: RolloutState, owner: OwnerInfo, leaseMs: number, now: number): Promise<AcquireResult> {
    const terminal = Object.fromEntries(TERMINAL_PHASES.map((p, i) => [`:t${i}`, S(p)]));
    const json = this.#stateJson(state);
    try {
      const out = await this.#o.api.dynamo.updateItem({
        TableName: this.#o.table,
        Key: { scope: S(state.scope) },
        ConditionExpression: `attribute_not_exists(#scope) OR #phase IN (${Object.keys(terminal).join(", ")})`,
        UpdateExpression:
          "SET #revision = if_not_exists(#revision, :zero) + :one, #rolloutId = :id, #phase = :phase, " +
          "#state = :state, #owner = :owner, #leaseUntil = :lease, #context = :context REMOVE #expiresAt",
        ExpressionAttributeNames: {
          "#scope": "scope",
          "#revision": "revision",
          "#rolloutId": "rolloutId",
          "#phase": "phase",
          "#state": "state",
          "#owner": "owner",
          "#leaseUntil": "leaseUntil",
          "#context": "context",
          "#expiresAt": "expiresAt",
        },
        ExpressionAttributeValues: {
          ...terminal,
          ":zero": N(0),
          ":one": N(1),
          ":id": S(state.id),
          ":phase": S(state.phase),
          ":state": S(json),
          ":owner": ownerValue(owner),
          ":lease": N(now + leaseMs),
          ":context": S(JSON.stringify(this.#o.context ?? {})),
        },
        ReturnValues: "ALL_NEW",
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      });
      if (out.Attributes === undefined) throw new StateError(`acquire of ${state.scope} returned no item`);
      return { kind: "acquired", stored: strip(parseItem(out.Attributes)) };
    } catch (e) {
      if (isAwsCode(e, "ConditionalCheckFailedException")) {
        const held = heldItem(e) ?? (await this.loadItem(state.scope));
        if (held === null)
          throw new StateError(`the rollout of ${state.scope} vanished while acquiring it`, {
            retryable: true,
          });
        // This very write, applied once and retried by the SDK after its answer was lost: ours.
        if (retried(e) && wroteThis(held, json, state.id, owner, held.revision)) {
          return { kind: "acquired", stored: strip(held) };
        }
        return { kind: "held", stored: strip(held) };
      }
      return this.#missing(e);
    }
  }

  async load(scope: string): Promise<StoredRollout | null> {
    const item = await this.loadItem(scope);
    return item === null ? null : strip(item);
  }

  /** The stored rollout with its context (the AWS target reads the resources from it). */
  async loadItem(scope: string, signal?: AbortSignal): Promise<StoredItem | null> {
    const out = await this.#o.api.dynamo
      .getItem({ TableName: this.#o.table, Key: { scope: S(scope) }, ConsistentRead: true }, signal)
      .catch((e: unknown) => this.#missing(e));
    return out.Item === undefined ? null : parseItem(out.Item);
  }

  async save(
    state: RolloutState,
    expectedRevision: number,
    owner: OwnerInfo | null,
    leaseMs: number,
    now: number,
  ): Promise<StoredRollout> {
    const ended = isTerminal(state.phase);
    const set = [
      "#revision = :next",
      "#phase = :phase",
      "#state = :state",
      "#leaseUntil = :lease",
      ...(owner === null ? [] : ["#owner = :owner"]),
      ...(ended ? ["#expiresAt = :expires"] : []),
    ];
    const remove = [...(owner === null ? ["#owner"] : []), ...(ended ? [] : ["#expiresAt"])];
    const names: Record<string, string> = {
      "#revision": "revision",
      "#rolloutId": "rolloutId",
      "#phase": "phase",
      "#state": "state",
      "#leaseUntil": "leaseUntil",
    };
    if (owner !== null || remove.includes("#owner")) names["#owner"] = "owner";
    if (ended || remove.includes("#expiresAt")) names["#expiresAt"] = "expiresAt";
    const leaseUntil = owner === null ? now : now + leaseMs;
    const json = this.#stateJson(state);
    try {
      await this.#o.api.dynamo.updateItem({
        TableName: this.#o.table,
        Key: { scope: S(state.scope) },
        ConditionExpression: "#revision = :expected AND #rolloutId = :id",
        UpdateExpression: `SET ${set.join(", ")}${remove.length > 0 ? ` REMOVE ${remove.join(", ")}` : ""}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: {
          ":expected": N(expectedRevision),
          ":next": N(expectedRevision + 1),
          ":id": S(state.id),
          ":phase": S(state.phase),
          ":state": S(json),
          ":lease": N(leaseUntil),
          ...(owner === null ? {} : { ":owner": ownerValue(owner) }),
          ...(ended ? { ":expires": N(Math.floor(now / 1000) + ENDED_RETENTION_S) } : {}),
        },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      });
    } catch (e) {
      if (isAwsCode(e, "ConditionalCheckFailedException")) {
        // The SDK retries a write whose answer was lost (a 5xx or a timeout after DynamoDB applied
        // it), and the retry fails its own condition: the revision moved — by this very write. When the
        // item holds exactly what this write wrote, it happened (once): a success. Taking it for
        // another process's takeover made the run stop and leave its rollout with no process at all.
        const current = retried(e)
          ? (heldItem(e) ?? (await this.loadItem(state.scope).catch(() => null)))
          : null;
        if (current !== null && wroteThis(current, json, state.id, owner, expectedRevision + 1)) {
          return {
            state: structuredClone(state),
            revision: expectedRevision + 1,
            owner: owner === null ? null : { ...owner },
            leaseUntil,
          };
        }
        throw new StateError(
          `rollout ${state.id} was changed by another process (expected revision ${expectedRevision}, found ${current?.revision ?? "another rollout or none"})`,
          { cause: e },
        );
      }
      return this.#missing(e);
    }
    return {
      state: structuredClone(state),
      revision: expectedRevision + 1,
      owner: owner === null ? null : { ...owner },
      leaseUntil,
    };
  }
}

/** Whether the SDK sent the call more than once (only then can its own first attempt have landed). */
function retried(e: AwsCallError): boolean {
  return ((e.cause as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts ?? 1) > 1;
}

/** Whether `item` is exactly what one write of `json` by `owner` left, at `revision`. */
function wroteThis(
  item: StoredItem,
  json: string,
  rolloutId: string,
  owner: OwnerInfo | null,
  revision: number,
): boolean {
  return (
    item.revision === revision &&
    item.state.id === rolloutId &&
    (item.owner?.id ?? null) === (owner?.id ?? null) &&
    JSON.stringify(item.state) === json
  );
}

/** The item a failed condition found (ReturnValuesOnConditionCheckFailure: ALL_OLD), when AWS sent it. */
function heldItem(e: AwsCallError): StoredItem | null {
  const item = (e.cause as { Item?: Record<string, AttributeValue> } | undefined)?.Item;
  if (item === undefined || item.state === undefined) return null;
  try {
    return parseItem(item);
  } catch {
    return null;
  }
}

function strip(item: StoredItem): StoredRollout {
  return { state: item.state, revision: item.revision, owner: item.owner, leaseUntil: item.leaseUntil };
}
