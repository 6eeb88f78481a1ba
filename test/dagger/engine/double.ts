/**
 * An engine double: a GraphQL server over Dagger's published schema of engine 0.21
 * (vendor/dagger/schema.graphqls), answering a module's runtime as the engine would for one function
 * call. It serves only what the SDK's entrypoint and this module's functions use:
 *
 * - the call: `currentModule.name`, `currentFunctionCall` (name, parentName, parent, inputArgs encoded
 *   as the engine encodes them, returnValue, returnError) — core/modfunc.go `setCallInputs`;
 * - what the module registers: `module`, `typeDef`, `function`, `sourceMap` and their `with*` builders,
 *   recorded as the typedefs the engine would install;
 * - the objects a call hands over or creates by ID: secrets (`setSecret`, Secret arguments), a
 *   Service's endpoint, a File's name and contents, the contextual source Directory;
 * - `node(id:)`, through which the SDK loads every object argument.
 *
 * Every query is parsed and validated against the schema with graphql-js (`validate`), so a query the
 * real engine would reject is rejected here too and recorded in `rejected`. A field the double does not
 * implement fails the query naming it, never answers with something made up. ID arguments are checked
 * against their `@expectedType`. The request must carry the session token as the engine's does
 * (HTTP Basic, token as user name).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  buildSchema,
  execute,
  type GraphQLArgument,
  GraphQLEnumType,
  type GraphQLFieldResolver,
  type GraphQLSchema,
  type GraphQLTypeResolver,
  getNamedType,
  parse,
  validate,
} from "graphql";
import { REPO } from "../scan.js";

export const SCHEMA_PATH = join(REPO, "vendor/dagger/schema.graphqls");

let schemaCache: GraphQLSchema | undefined;
/** Dagger's published schema of engine 0.21, built once per process. */
export function daggerSchema(): GraphQLSchema {
  schemaCache ??= buildSchema(readFileSync(SCHEMA_PATH, "utf8"));
  return schemaCache;
}

/** An object of the engine's API: its GraphQL type and the double's data for it. */
interface EngineObject {
  readonly type: string;
  readonly data: Record<string, unknown>;
}

const obj = (type: string, data: Record<string, unknown> = {}): EngineObject => ({ type, data });

/** A registered type definition, as the engine would hold it after the module registers. */
export interface RecordedTypeDef {
  kind: string;
  optional: boolean;
  name?: string;
  description?: string;
  functions?: RecordedFunction[];
  fields?: { name: string; typeDef: RecordedTypeDef; description: string }[];
  /** The object's constructor (`withConstructor`). */
  ctor?: RecordedFunction | undefined;
  elementType?: RecordedTypeDef;
  members?: { name: string; value: string; description: string }[];
}

export interface RecordedArg {
  name: string;
  typeDef: RecordedTypeDef;
  description: string;
  /** JSON text, as the module sent it; undefined when it sent none. */
  defaultValue: string | undefined;
  defaultPath: string;
  ignore: string[];
}

export interface RecordedFunction {
  name: string;
  returnType: RecordedTypeDef;
  description: string;
  args: RecordedArg[];
  /** FunctionCachePolicy name (Default, PerSession, Never), undefined when the module set none. */
  cachePolicy: string | undefined;
  sourceMap?: { filename: string; line: number; column: number } | undefined;
}

export interface RecordedModule {
  description: string;
  objects: RecordedTypeDef[];
  enums: RecordedTypeDef[];
  interfaces: RecordedTypeDef[];
}

/** What the call returned through `returnValue` or `returnError`. */
export type CallResult =
  | { readonly kind: "value"; readonly json: string }
  | { readonly kind: "error"; readonly message: string; readonly values: Record<string, string> };

/** One function call, as the engine hands it to the runtime. */
export interface CallContext {
  /** "" when the engine asks the module to register itself. */
  readonly parentName: string;
  /** The function's original name; "" for the constructor. */
  readonly name: string;
  /** The parent object's state (JSON object). */
  readonly parent: Record<string, unknown>;
  /** Argument name → JSON text of its value (objects as IDs), as core/modfunc.go encodes them. */
  readonly inputArgs: Readonly<Record<string, string>>;
}

export interface ServiceTarget {
  /** What `Service.endpoint` answers without a scheme: host:port. */
  readonly hostPort: string;
}

export interface DirectoryContents {
  /** Relative path → size in bytes of every file the directory holds. */
  readonly files: Readonly<Record<string, number>>;
}

/**
 * An enum member's value: several members of the schema's enums are aliases of another, marked
 * `@enumValue(value: …)` (e.g. TypeDefKind `STRING` for `STRING_KIND`), which the SDK sends by name.
 */
function enumValue(arg: GraphQLArgument, value: unknown): unknown {
  const type = getNamedType(arg.type);
  if (!(type instanceof GraphQLEnumType) || typeof value !== "string") return value;
  const directive = type.getValue(value)?.astNode?.directives?.find((d) => d.name.value === "enumValue");
  const v = directive?.arguments?.find((a) => a.name.value === "value")?.value;
  return v?.kind === "StringValue" ? v.value : value;
}

export class EngineDouble {
  readonly token = randomBytes(16).toString("hex");
  /** Every query received, in order, with when it arrived (epoch ms). */
  readonly queries: { at: number; query: string }[] = [];
  /** Queries the schema rejected, with the errors. */
  readonly rejected: { query: string; errors: string[] }[] = [];
  /** Fields a query asked for that the double does not serve. */
  readonly unimplemented: string[] = [];
  result: CallResult | undefined;
  /** The module's typedefs, when the call registered it (its ID returned through returnValue). */
  registered: RecordedModule | undefined;

  private server: Server | undefined;
  private readonly store = new Map<string, EngineObject>();
  private nextId = 1;
  private call: CallContext = { parentName: "", name: "", parent: {}, inputArgs: {} };

  constructor(private readonly moduleName: string) {}

  /** Sets the next call; objects made for its arguments stay valid for the session. */
  setCall(call: CallContext): void {
    this.call = call;
    this.result = undefined;
    this.registered = undefined;
  }

  /** A Secret the caller passes (e.g. `env:AWS_SECRET_ACCESS_KEY` on the CLI): its ID. */
  secret(name: string, plaintext: string): string {
    return this.idOf(obj("Secret", { name, plaintext, uri: `double://secret/${name}` }));
  }

  /** A Service the caller passes (e.g. `tcp://localhost:4566` on the CLI): its ID. */
  service(target: ServiceTarget): string {
    return this.idOf(obj("Service", { ...target }));
  }

  /** A File the caller passes: its ID. */
  file(name: string, contents: string): string {
    return this.idOf(obj("File", { name, contents }));
  }

  /** A Directory the engine loaded (a contextual argument): its ID. */
  directory(contents: DirectoryContents): string {
    return this.idOf(obj("Directory", { ...contents }));
  }

  async start(): Promise<{ port: number; token: string }> {
    this.server = createServer((req, res) => {
      this.handle(req)
        .then((body) => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify(body));
        })
        .catch((e: unknown) => {
          res.writeHead(401, { "content-type": "application/json" });
          res.end(JSON.stringify({ errors: [{ message: String((e as Error).message ?? e) }] }));
        });
    });
    // Go's net/http server (the engine's) keeps idle connections open; Node's closes them after 5 s,
    // which the SDK's kept-alive client meets as "socket hang up" after a long introspection.
    this.server.keepAliveTimeout = 0;
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return { port: (this.server.address() as AddressInfo).port, token: this.token };
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage): Promise<unknown> {
    const expected = `Basic ${Buffer.from(`${this.token}:`).toString("base64")}`;
    if (req.headers.authorization !== expected) throw new Error("missing or wrong session token");
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const { query, variables } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
      query: string;
      variables?: Record<string, unknown>;
    };
    this.queries.push({ at: Date.now(), query });
    const schema = daggerSchema();
    let document: ReturnType<typeof parse>;
    try {
      document = parse(query);
    } catch (e) {
      this.rejected.push({ query, errors: [String(e)] });
      return { errors: [{ message: String(e) }] };
    }
    const errors = validate(schema, document);
    if (errors.length > 0) {
      this.rejected.push({ query, errors: errors.map((e) => e.message) });
      return { errors: errors.map((e) => ({ message: e.message })) };
    }
    const result = await execute({
      schema,
      document,
      variableValues: variables ?? {},
      rootValue: obj("Query"),
      fieldResolver: this.resolveField,
      typeResolver: this.resolveType,
    });
    return {
      data: result.data ?? null,
      ...(result.errors ? { errors: result.errors.map((e) => ({ message: e.message, path: e.path })) } : {}),
    };
  }

  private idOf(o: EngineObject): string {
    const id = `${o.type}:${this.nextId++}`;
    this.store.set(id, o);
    return id;
  }

  private load(id: unknown, type?: string): EngineObject {
    const o = typeof id === "string" ? this.store.get(id) : undefined;
    if (!o) throw new Error(`no object with ID ${JSON.stringify(id)} in this session`);
    if (type !== undefined && o.type !== type) {
      throw new Error(`ID ${JSON.stringify(id)} is a ${o.type}, expected a ${type}`);
    }
    return o;
  }

  private readonly resolveType: GraphQLTypeResolver<unknown, unknown> = (value) =>
    (value as EngineObject).type;

  private readonly resolveField: GraphQLFieldResolver<unknown, unknown> = (source, args, _ctx, info) => {
    const parent = source as EngineObject;
    const key = `${parent.type}.${info.fieldName}`;
    // ID arguments name the type they must hold (@expectedType), as the engine checks.
    const fieldDef = info.parentType.getFields()[info.fieldName];
    for (const argDef of fieldDef?.args ?? []) {
      const expected = argDef.astNode?.directives?.find((d) => d.name.value === "expectedType");
      const nameArg = expected?.arguments?.find((a) => a.name.value === "name");
      const value = (args as Record<string, unknown>)[argDef.name];
      if (nameArg?.value.kind === "StringValue" && value !== undefined && value !== null) {
        this.load(value, nameArg.value.value);
      }
    }
    if (info.fieldName === "id") return this.idOf(parent);
    const handler = this.handlers[key];
    if (!handler) {
      this.unimplemented.push(key);
      throw new Error(`the engine double does not serve ${key}`);
    }
    const values: Record<string, unknown> = { ...(args as Record<string, unknown>) };
    for (const argDef of fieldDef?.args ?? []) values[argDef.name] = enumValue(argDef, values[argDef.name]);
    return handler(parent.data, values);
  };

  private typeDef(id: unknown): RecordedTypeDef {
    return structuredClone(this.load(id, "TypeDef").data) as unknown as RecordedTypeDef;
  }

  private fn(id: unknown): RecordedFunction {
    return structuredClone(this.load(id, "Function").data) as unknown as RecordedFunction;
  }

  private withTypeDef(data: Record<string, unknown>, change: Partial<RecordedTypeDef>): EngineObject {
    return obj("TypeDef", { ...structuredClone(data), ...change });
  }

  private readonly handlers: Record<
    string,
    (data: Record<string, unknown>, args: Record<string, unknown>) => unknown
  > = {
    // The call.
    "Query.currentModule": () => obj("CurrentModule", { name: this.moduleName }),
    "CurrentModule.name": (d) => d.name,
    "Query.currentFunctionCall": () => obj("FunctionCall"),
    "FunctionCall.parentName": () => this.call.parentName,
    "FunctionCall.name": () => this.call.name,
    "FunctionCall.parent": () => JSON.stringify(this.call.parent),
    "FunctionCall.inputArgs": () =>
      Object.entries(this.call.inputArgs).map(([name, value]) =>
        obj("FunctionCallArgValue", { name, value }),
      ),
    "FunctionCallArgValue.name": (d) => d.name,
    "FunctionCallArgValue.value": (d) => d.value,
    "FunctionCall.returnValue": (_d, a) => {
      this.settle({ kind: "value", json: String(a.value) });
      return null;
    },
    "FunctionCall.returnError": (_d, a) => {
      const e = this.load(a.error, "Error").data as { message: string; values: Record<string, string> };
      this.settle({ kind: "error", message: e.message, values: { ...e.values } });
      return null;
    },
    "Query.error": (_d, a) => obj("Error", { message: a.message, values: {} }),
    "Error.withValue": (d, a) =>
      obj("Error", { ...d, values: { ...(d.values as object), [String(a.name)]: String(a.value) } }),
    "Query.node": (_d, a) => this.load(a.id),

    // Objects handed to or made by a call.
    "Query.setSecret": (_d, a) =>
      obj("Secret", { name: a.name, plaintext: a.plaintext, uri: `double://set/${String(a.name)}` }),
    "Secret.plaintext": (d) => d.plaintext,
    "Secret.name": (d) => d.name,
    "Service.endpoint": (d, a) => {
      if (a.port !== undefined && a.port !== null) throw new Error("the double's services expose one port");
      const scheme = typeof a.scheme === "string" && a.scheme !== "" ? `${a.scheme}://` : "";
      return `${scheme}${String(d.hostPort)}`;
    },
    "File.name": (d) => d.name,
    "File.contents": (d) => d.contents,

    // What the module registers (sdk/typescript/src/module/entrypoint/register.ts).
    "Query.module": () => obj("Module", { description: "", objects: [], enums: [], interfaces: [] }),
    "Module.withDescription": (d, a) => obj("Module", { ...d, description: a.description }),
    "Module.withObject": (d, a) =>
      obj("Module", { ...d, objects: [...(d.objects as unknown[]), this.typeDef(a.object)] }),
    "Module.withEnum": (d, a) =>
      obj("Module", { ...d, enums: [...(d.enums as unknown[]), this.typeDef(a.enum)] }),
    "Module.withInterface": (d, a) =>
      obj("Module", { ...d, interfaces: [...(d.interfaces as unknown[]), this.typeDef(a.iface)] }),
    "Query.sourceMap": (_d, a) => obj("SourceMap", { filename: a.filename, line: a.line, column: a.column }),
    "Query.typeDef": () => obj("TypeDef", { kind: "VOID_KIND", optional: false }),
    "TypeDef.withKind": (d, a) => this.withTypeDef(d, { kind: String(a.kind) }),
    "TypeDef.withOptional": (d, a) => this.withTypeDef(d, { optional: Boolean(a.optional) }),
    "TypeDef.withScalar": (d, a) =>
      this.withTypeDef(d, { kind: "SCALAR_KIND", name: String(a.name), description: String(a.description) }),
    "TypeDef.withListOf": (d, a) =>
      this.withTypeDef(d, { kind: "LIST_KIND", elementType: this.typeDef(a.elementType) }),
    "TypeDef.withObject": (d, a) =>
      this.withTypeDef(d, {
        kind: "OBJECT_KIND",
        name: String(a.name),
        description: String(a.description ?? ""),
        functions: [],
        fields: [],
      }),
    "TypeDef.withInterface": (d, a) =>
      this.withTypeDef(d, {
        kind: "INTERFACE_KIND",
        name: String(a.name),
        description: String(a.description ?? ""),
        functions: [],
      }),
    "TypeDef.withEnum": (d, a) =>
      this.withTypeDef(d, {
        kind: "ENUM_KIND",
        name: String(a.name),
        description: String(a.description ?? ""),
        members: [],
      }),
    "TypeDef.withEnumMember": (d, a) =>
      this.withTypeDef(d, {
        members: [
          ...((d.members as RecordedTypeDef["members"]) ?? []),
          { name: String(a.name), value: String(a.value ?? ""), description: String(a.description ?? "") },
        ],
      }),
    "TypeDef.withFunction": (d, a) =>
      this.withTypeDef(d, {
        functions: [...((d.functions as RecordedFunction[]) ?? []), this.fn(a.function)],
      }),
    "TypeDef.withConstructor": (d, a) => this.withTypeDef(d, { ctor: this.fn(a.function) }),
    "TypeDef.withField": (d, a) =>
      this.withTypeDef(d, {
        fields: [
          ...((d.fields as RecordedTypeDef["fields"]) ?? []),
          {
            name: String(a.name),
            typeDef: this.typeDef(a.typeDef),
            description: String(a.description ?? ""),
          },
        ],
      }),
    "Query.function": (_d, a) =>
      obj("Function", {
        name: a.name,
        returnType: this.typeDef(a.returnType),
        description: "",
        args: [],
        cachePolicy: undefined,
      }),
    "Function.withDescription": (d, a) => obj("Function", { ...d, description: a.description }),
    "Function.withSourceMap": (d, a) =>
      obj("Function", { ...d, sourceMap: structuredClone(this.load(a.sourceMap, "SourceMap").data) }),
    "Function.withCachePolicy": (d, a) => {
      if (a.timeToLive !== undefined && a.timeToLive !== null && a.policy !== "Default") {
        throw new Error("timeToLive is only valid with the Default policy");
      }
      return obj("Function", { ...d, cachePolicy: a.policy });
    },
    "Function.withDeprecated": (d, a) => obj("Function", { ...d, deprecated: a.reason ?? "" }),
    "Function.withArg": (d, a) => {
      const arg: RecordedArg = {
        name: String(a.name),
        typeDef: this.typeDef(a.typeDef),
        description: String(a.description ?? ""),
        defaultValue:
          a.defaultValue === undefined || a.defaultValue === null ? undefined : String(a.defaultValue),
        defaultPath: String(a.defaultPath ?? ""),
        ignore: ((a.ignore as string[] | undefined) ?? []).map(String),
      };
      return obj("Function", { ...d, args: [...(d.args as RecordedArg[]), arg] });
    },
  };

  /** The module whose ID the SDK handed back (the entrypoint's returnValue, or ModuleTypes' output file). */
  registerModule(id: unknown): RecordedModule {
    this.registered = structuredClone(this.load(id, "Module").data) as unknown as RecordedModule;
    return this.registered;
  }

  private settle(result: CallResult): void {
    if (this.result !== undefined) throw new Error("the call already returned");
    this.result = result;
    if (result.kind === "value" && this.call.parentName === "") this.registerModule(JSON.parse(result.json));
  }
}
