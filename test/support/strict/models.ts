/**
 * AWS's own API models, as the vendored botocore package carries them
 * (`.emulator/usr/lib/python3/dist-packages/botocore/data/<service>/<version>/service-2.json`):
 * the operations, their input shapes and every constraint AWS publishes for them (required members,
 * enums, min/max, patterns). The strict proxy (proxy.ts) checks each request against these.
 *
 * To check a new service, add one line to SERVICES: the SigV4 signing name the SDK signs with, the
 * botocore directory and API version. Models are loaded on first use and cached for the process.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const BOTOCORE_DATA = join(REPO, ".emulator/usr/lib/python3/dist-packages/botocore/data");

/** A member reference: the shape plus how it is serialised. */
export interface MemberRef {
  readonly shape: string;
  readonly locationName?: string;
  /** EC2 protocol only: the query key, which wins over `locationName`. */
  readonly queryName?: string;
  /** REST protocols: where the member travels (absent: the body). */
  readonly location?: "uri" | "querystring" | "header" | "headers" | "statusCode";
  readonly flattened?: boolean;
  readonly idempotencyToken?: boolean;
  readonly jsonvalue?: boolean;
}

export interface Shape {
  readonly type:
    | "structure"
    | "list"
    | "map"
    | "string"
    | "integer"
    | "long"
    | "double"
    | "float"
    | "boolean"
    | "timestamp"
    | "blob";
  readonly members?: Readonly<Record<string, MemberRef>>;
  readonly required?: readonly string[];
  readonly member?: MemberRef;
  readonly key?: MemberRef;
  readonly value?: MemberRef;
  readonly enum?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly pattern?: string;
  readonly union?: boolean;
  readonly flattened?: boolean;
  readonly locationName?: string;
  readonly payload?: string;
  readonly streaming?: boolean;
  readonly timestampFormat?: string;
}

export interface Operation {
  readonly name: string;
  readonly http: { readonly method: string; readonly requestUri: string };
  readonly input?: { readonly shape: string };
}

export interface ServiceModel {
  /** botocore's directory name: elbv2, autoscaling, ec2, cloudwatch, dynamodb, ecr, sts, iam, lambda. */
  readonly name: string;
  readonly version: string;
  readonly metadata: {
    readonly protocol: string;
    readonly protocols?: readonly string[];
    readonly jsonVersion?: string;
    readonly targetPrefix?: string;
    readonly awsQueryCompatible?: Readonly<Record<string, unknown>>;
    readonly xmlNamespace?: string;
  };
  readonly operations: Readonly<Record<string, Operation>>;
  readonly shapes: Readonly<Record<string, Shape>>;
}

export interface ServiceEntry {
  /** The SigV4 signing name (credential scope) the SDK uses. */
  readonly signingName: string;
  readonly dir: string;
  readonly version: string;
}

/** Every service gray-deploy (or a test acting as its user) calls, plus Lambda for the guard. */
export const SERVICES: readonly ServiceEntry[] = [
  { signingName: "elasticloadbalancing", dir: "elbv2", version: "2015-12-01" },
  { signingName: "autoscaling", dir: "autoscaling", version: "2011-01-01" },
  { signingName: "ec2", dir: "ec2", version: "2016-11-15" },
  { signingName: "monitoring", dir: "cloudwatch", version: "2010-08-01" },
  { signingName: "dynamodb", dir: "dynamodb", version: "2012-08-10" },
  { signingName: "ecr", dir: "ecr", version: "2015-09-21" },
  { signingName: "sts", dir: "sts", version: "2011-06-15" },
  { signingName: "iam", dir: "iam", version: "2010-05-08" },
  { signingName: "lambda", dir: "lambda", version: "2015-03-31" },
];

const cache = new Map<string, ServiceModel>();

/** The model of a service by signing name (or botocore directory); throws when unknown or absent. */
export function loadModel(name: string): ServiceModel {
  const entry = SERVICES.find((s) => s.signingName === name || s.dir === name);
  if (!entry) {
    throw new Error(
      `strict mode knows no AWS service signed as "${name}": add it to SERVICES in test/support/strict/models.ts`,
    );
  }
  const cached = cache.get(entry.dir);
  if (cached) return cached;
  const file = join(BOTOCORE_DATA, entry.dir, entry.version, "service-2.json");
  if (!existsSync(file)) {
    throw new Error(
      `no AWS API model at ${file}: run \`bash scripts/install-emulator.sh\` (it unpacks botocore)`,
    );
  }
  // Documentation strings are most of the bytes; drop them while parsing.
  const raw = JSON.parse(readFileSync(file, "utf8"), (k, v) => (k === "documentation" ? undefined : v)) as {
    metadata: ServiceModel["metadata"];
    operations: Record<string, Operation>;
    shapes: Record<string, Shape>;
  };
  const model: ServiceModel = {
    name: entry.dir,
    version: entry.version,
    metadata: raw.metadata,
    operations: raw.operations,
    shapes: raw.shapes,
  };
  cache.set(entry.dir, model);
  return model;
}

export function shapeOf(model: ServiceModel, name: string): Shape {
  const s = model.shapes[name];
  if (!s) throw new Error(`${model.name} model: no shape ${name}`);
  return s;
}

/** The wire protocol the pinned SDK client speaks for a service (see wire.ts). */
export function protocolOf(model: ServiceModel): string {
  return model.metadata.protocol;
}
