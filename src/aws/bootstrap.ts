/**
 * `gray-deploy bootstrap --target aws --state-table NAME`: creates the rollout state table for
 * accounts that do not use the Terraform module, with the module's schema (partition key `scope` (S),
 * on-demand billing, TTL on `expiresAt`, point-in-time recovery). Idempotent: an existing table with
 * the right key is fine (TTL and recovery are switched on if they are off); a table with another key
 * is an error naming the difference. The same schema check runs whenever the AWS target opens.
 */
import type { TableDescription } from "@aws-sdk/client-dynamodb";
import { PreflightError } from "../contract/errors.js";
import { systemClock } from "../engine/clock.js";
import { waitUntil } from "../engine/retry.js";
import type { AwsCredentialsProvider } from "../engine/targets.js";
import type { Clock } from "../ports/index.js";
import type { AwsApi } from "./api.js";
import { createAwsApi } from "./connection.js";
import { isAwsCode } from "./errors.js";
import type { AwsOptions } from "./options.js";

export const STATE_TABLE_KEY = "scope";
export const STATE_TABLE_TTL_ATTRIBUTE = "expiresAt";

export interface BootstrapDeps {
  readonly log?: (line: string) => void;
  /** Credentials with --role-arn applied (the Dagger module); absent: the standard chain plus --role-arn. */
  readonly credentials?: AwsCredentialsProvider;
  /** For the wait until a new table is active. Default: the system clock. */
  readonly clock?: Clock;
}

export interface BootstrapResult {
  readonly message: string;
  readonly created: boolean;
  readonly table: string;
  readonly region: string;
  /** `enabled`, `already enabled`, or why not. */
  readonly timeToLive: string;
  readonly pointInTimeRecovery: string;
  /** Warnings about an existing table that works but differs from the module's. */
  readonly warnings: readonly string[];
  readonly awsCalls: number;
}

/** What is wrong with an existing table's key, or null when it is gray-deploy's schema. */
export function stateTableProblem(table: TableDescription): string | null {
  const keys = table.KeySchema ?? [];
  const hash = keys.find((k) => k.KeyType === "HASH");
  const range = keys.find((k) => k.KeyType === "RANGE");
  const typeOf = (name: string | undefined) =>
    table.AttributeDefinitions?.find((a) => a.AttributeName === name)?.AttributeType ?? "?";
  const has = [
    hash ? `partition key ${hash.AttributeName} (${typeOf(hash.AttributeName)})` : "no partition key",
    ...(range ? [`sort key ${range.AttributeName} (${typeOf(range.AttributeName)})`] : []),
  ].join(" and ");
  if (hash?.AttributeName === STATE_TABLE_KEY && typeOf(STATE_TABLE_KEY) === "S" && range === undefined)
    return null;
  return `has ${has}; gray-deploy needs partition key ${STATE_TABLE_KEY} (S) and no sort key`;
}

/** Fails with a PreflightError when the table is missing or is not gray-deploy's schema. */
export async function checkStateTable(
  api: AwsApi,
  table: string,
  signal?: AbortSignal,
): Promise<TableDescription> {
  const out = await api.dynamo.describeTable({ TableName: table }, signal).catch((e: unknown) => {
    if (isAwsCode(e, "ResourceNotFoundException")) {
      throw new PreflightError(`the state table ${table} does not exist in this region`, {
        field: "stateTable",
        fix: `create it: gray-deploy bootstrap --target aws --state-table ${table} (or apply the Terraform module), or correct --state-table/--region`,
        cause: e,
      });
    }
    throw e;
  });
  const description = out.Table ?? {};
  const problem = stateTableProblem(description);
  if (problem !== null) {
    throw new PreflightError(`the state table ${table} ${problem}`, {
      field: "stateTable",
      fix: "pass another --state-table (gray-deploy bootstrap creates one with the right key); nothing was changed",
    });
  }
  return description;
}

export async function bootstrapStateTable(
  o: Pick<AwsOptions, "stateTable" | "region" | "endpoint" | "roleArn">,
  deps: BootstrapDeps = {},
): Promise<BootstrapResult> {
  const table = o.stateTable;
  const region = o.region;
  if (table === undefined || region === undefined) {
    throw new PreflightError("bootstrap needs --state-table and --region", {
      field: table === undefined ? "stateTable" : "region",
    });
  }
  const log = deps.log ?? (() => {});
  const connection = createAwsApi({
    region,
    endpoint: o.endpoint,
    ...(deps.credentials === undefined ? { roleArn: o.roleArn } : { credentials: deps.credentials }),
    log,
  });
  const { api } = connection;
  try {
    let created = false;
    const warnings: string[] = [];
    let description = await api.dynamo
      .describeTable({ TableName: table })
      .then((out) => out.Table ?? null)
      .catch((e: unknown) => {
        if (isAwsCode(e, "ResourceNotFoundException")) return null;
        throw e;
      });
    if (description === null) {
      try {
        await api.dynamo.createTable({
          TableName: table,
          BillingMode: "PAY_PER_REQUEST",
          AttributeDefinitions: [{ AttributeName: STATE_TABLE_KEY, AttributeType: "S" }],
          KeySchema: [{ AttributeName: STATE_TABLE_KEY, KeyType: "HASH" }],
          Tags: [{ Key: "gray-deploy:role", Value: "state" }],
        });
        created = true;
        log(`creating DynamoDB table ${table} (partition key ${STATE_TABLE_KEY}, on-demand)`);
      } catch (e) {
        // Someone else created it between our describe and our create: check theirs like any other.
        if (!isAwsCode(e, "ResourceInUseException")) throw e;
      }
      description = null;
    }
    if (description === null || description.TableStatus !== "ACTIVE") {
      const ready = await waitUntil<TableDescription>(
        async () => {
          const t = (await api.dynamo.describeTable({ TableName: table })).Table ?? {};
          if (t.TableStatus === "ACTIVE") return { state: "SUCCESS", value: t, observed: "ACTIVE" };
          if (t.TableStatus === "DELETING") {
            return { state: "FAILURE", reason: `table ${table} is being deleted`, observed: "DELETING" };
          }
          return { state: "RETRY", observed: t.TableStatus ?? "unknown" };
        },
        { timeoutMs: 180_000, minDelayMs: 250, maxDelayMs: 5000, clock: deps.clock ?? systemClock() },
      );
      if (ready.state !== "SUCCESS") {
        throw new PreflightError(
          `table ${table} did not become ACTIVE: ${ready.reason} (last: ${ready.last})`,
          {
            field: "stateTable",
          },
        );
      }
      description = ready.value;
    }
    const problem = stateTableProblem(description);
    if (problem !== null) {
      throw new PreflightError(`the table ${table} exists and ${problem}`, {
        field: "stateTable",
        fix: "choose another --state-table name; gray-deploy does not change an existing table's key",
      });
    }
    if (!created && description.BillingModeSummary?.BillingMode === "PROVISIONED") {
      warnings.push(
        `table ${table} uses provisioned capacity (the module uses on-demand); it works as long as it is not throttled`,
      );
    }

    const timeToLive = await enableTtl(api, table, warnings);
    const pointInTimeRecovery = await enablePitr(api, table);
    const calls = connection.calls.snapshot().totalOperations;
    const message = [
      created
        ? `created the state table ${table} in ${region}`
        : `the state table ${table} in ${region} already exists with the right key (${STATE_TABLE_KEY})`,
      `TTL on ${STATE_TABLE_TTL_ATTRIBUTE}: ${timeToLive}`,
      `point-in-time recovery: ${pointInTimeRecovery}`,
      ...warnings.map((w) => `warning: ${w}`),
    ].join("; ");
    return { message, created, table, region, timeToLive, pointInTimeRecovery, warnings, awsCalls: calls };
  } finally {
    connection.destroy();
  }
}

async function enableTtl(api: AwsApi, table: string, warnings: string[]): Promise<string> {
  try {
    const ttl = (await api.dynamo.describeTimeToLive({ TableName: table })).TimeToLiveDescription;
    const status = ttl?.TimeToLiveStatus ?? "DISABLED";
    if (status === "ENABLED" || status === "ENABLING") {
      if (ttl?.AttributeName === STATE_TABLE_TTL_ATTRIBUTE) return "already enabled";
      warnings.push(
        `TTL is on attribute ${ttl?.AttributeName}, not ${STATE_TABLE_TTL_ATTRIBUTE}: ended rollouts will not expire`,
      );
      return `on another attribute (${ttl?.AttributeName})`;
    }
    await api.dynamo.updateTimeToLive({
      TableName: table,
      TimeToLiveSpecification: { AttributeName: STATE_TABLE_TTL_ATTRIBUTE, Enabled: true },
    });
    return "enabled";
  } catch (e) {
    if (
      isAwsCode(e, "ValidationException", "UnknownOperationException") ||
      (e as { httpStatus?: number }).httpStatus === 501
    ) {
      return `not enabled (${(e as Error).message})`;
    }
    throw e;
  }
}

async function enablePitr(api: AwsApi, table: string): Promise<string> {
  try {
    const backups = (await api.dynamo.describeContinuousBackups({ TableName: table }))
      .ContinuousBackupsDescription;
    if (backups?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus === "ENABLED")
      return "already enabled";
    await api.dynamo.updateContinuousBackups({
      TableName: table,
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    return "enabled";
  } catch (e) {
    // Some AWS-compatible servers (and accounts with backups disabled by policy) refuse it: the table
    // still works, so say so instead of failing the bootstrap.
    if (
      isAwsCode(
        e,
        "ContinuousBackupsUnavailableException",
        "UnknownOperationException",
        "ValidationException",
      )
    ) {
      return `not enabled (${(e as Error).message})`;
    }
    throw e;
  }
}
