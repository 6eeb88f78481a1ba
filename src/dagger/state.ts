/**
 * What the module keeps between its constructor and the function the engine calls next.
 *
 * An option two or more functions take is the module's: a constructor argument, given before the
 * function's name (`dagger call --target local --bake 5m deploy-gray`). The engine restores an
 * object's declared fields before each function call ("even if a field remains private, its state
 * will still be loaded"), so the constructor keeps the option values as ONE JSON text, `options`, and
 * each Dagger object it got (the config File, the endpoint Service, every Secret) as a field of its
 * own name, passed back by reference.
 */
import { defOf, OPTION_NAMES } from "../app/schema.js";
import type { SecretLike, VerbCall } from "./calls.js";
import type { ConfigFileLike, OptionArgs, ServiceLike } from "./options.js";

/**
 * The constructor's arguments as the module's fields: the values (strings, numbers, booleans, lists)
 * JSON-encoded in `options`, each Dagger object under its own name — which must be a declared field
 * of the module, or the engine could not hand it back. Arguments not given are left out.
 */
export function moduleState(args: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  const objects: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(args)) {
    if (value === undefined || value === null) continue;
    if (typeof value === "object" && !Array.isArray(value)) objects[name] = value;
    else values[name] = value;
  }
  return { options: JSON.stringify(values), ...objects };
}

/** The module's fields as `moduleState` set them and the engine restored them. */
export interface ModuleState {
  readonly options?: string | undefined;
  readonly config?: ConfigFileLike | undefined;
  readonly endpointService?: ServiceLike | undefined;
  readonly awsAccessKeyId?: SecretLike | undefined;
  readonly awsSecretAccessKey?: SecretLike | undefined;
  readonly awsSessionToken?: SecretLike | undefined;
  readonly webIdentityToken?: SecretLike | undefined;
  readonly checkSecrets?: SecretLike | undefined;
}

/** One function's call: the module's options and objects, with the function's own option arguments. */
export function moduleCall(state: ModuleState, own: OptionArgs = {}): VerbCall {
  // The schema's sensitive options (smokeHeader, zabbixToken, notifyWebhook) are Secrets, kept by name.
  const fields = state as unknown as Readonly<Record<string, SecretLike | undefined>>;
  const sensitive = OPTION_NAMES.filter((n) => defOf(n).sensitive && fields[n] !== undefined);
  return {
    options: own,
    shared: state.options === undefined ? {} : (JSON.parse(state.options) as OptionArgs),
    sensitive: Object.fromEntries(sensitive.map((n) => [n, fields[n]])),
    config: state.config,
    endpointService: state.endpointService,
    checkSecrets: state.checkSecrets,
    secrets: {
      awsAccessKeyId: state.awsAccessKeyId,
      awsSecretAccessKey: state.awsSecretAccessKey,
      awsSessionToken: state.awsSessionToken,
      webIdentityToken: state.webIdentityToken,
    },
  };
}
