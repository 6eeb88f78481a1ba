/**
 * One schema, two front ends: every option of the contract that applies to a verb is an argument of
 * that verb's Dagger function or of the module's constructor (same name, a type that reads the same,
 * optional without a default, its default and its target in its text) and a flag of the CLI's verb
 * (kebab-case, the same default in its help). Where a Dagger option goes follows one rule: an option
 * two or more functions take is the module's (a constructor argument, in no function); one that only
 * one function takes is that function's. Either front end drifting, or an option placed against the
 * rule, fails here.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  OPTION_DEFS,
  OPTION_NAMES,
  type OptionDef,
  type OptionName,
  optionFrontEnds,
  optionVerbs,
  SCHEMA,
  VERBS,
  type Verb,
} from "../../src/app/schema.js";
import { buildProgram, helpDefault } from "../../src/cli/program.js";
import { kebab } from "../../src/contract/errors.js";
import { type ScannedArgument, type ScannedObject, scanModule } from "./scan.js";

/** Arguments that are not options of the schema: what to build. */
const NOT_OPTIONS: Record<Verb, readonly string[]> = {
  "deploy-gray": ["source", "repository", "tag", "dockerfile", "platform", "buildArgs", "buildTarget"],
  plan: [],
  status: [],
  promote: [],
  abort: [],
  "rollback-release": [],
  bootstrap: [],
};

/** The constructor's arguments that are not options: how to reach AWS and with which credentials. */
const CONSTRUCTOR_NOT_OPTIONS = [
  "endpointService",
  "awsAccessKeyId",
  "awsSecretAccessKey",
  "awsSessionToken",
  "webIdentityToken",
  // The secrets --synthetic and --hooks name, NAME=value lines in one Secret (src/dagger/check-secrets.ts).
  "checkSecrets",
];

const camel = (verb: Verb) => verb.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const words = (s: string) => s.replace(/\s+/g, " ").trim();

/** The Dagger type an option must have: strings keep `5m`, `2%`, `5,25,50,100` as written. */
function daggerType(name: OptionName): string {
  const def: OptionDef = OPTION_DEFS[name];
  if (name === "config") return "File"; // a file from the caller's filesystem, read by the function
  if (def.sensitive) return "Secret";
  switch (def.kind) {
    case "boolean":
      return "BOOLEAN_KIND";
    case "integer":
      return "INTEGER_KIND";
    case "list":
      return "LIST_KIND";
    default:
      return "STRING_KIND";
  }
}

const typeOf = (a: ScannedArgument) => (a.type?.kind === "OBJECT_KIND" ? a.type.name : a.type?.kind);

const applies = (verb: Verb, frontEnd: "cli" | "dagger") =>
  OPTION_NAMES.filter((n) => optionVerbs(n).includes(verb) && optionFrontEnds(n).includes(frontEnd));

let gray: ScannedObject;
beforeAll(async () => {
  gray = (await scanModule()).objects.GrayDeploy!;
}, 60_000);

describe.each(VERBS.map((v) => [v]))("%s", (verb) => {
  it("has a Dagger argument for every option of the verb, same name, type and default", () => {
    const fn = gray.functions[camel(verb)];
    expect(fn, `function ${camel(verb)}`).toBeDefined();
    const args = new Map([...gray.constructorArguments, ...fn!.arguments].map((a) => [a.name, a]));
    const problems: string[] = [];
    for (const name of applies(verb, "dagger")) {
      const a = args.get(name);
      const def: OptionDef = OPTION_DEFS[name];
      if (a === undefined) {
        problems.push(`${name}: missing`);
        continue;
      }
      if (typeOf(a) !== daggerType(name))
        problems.push(`${name}: type ${typeOf(a)}, want ${daggerType(name)}`);
      // No option argument declares a default: given means given (issue 18), even at the default value.
      if (a.defaultValue !== undefined || !a.isOptional) {
        problems.push(`${name}: must be optional without a default (the schema applies the default)`);
      }
      if (!words(a.description).includes(words(def.description))) {
        problems.push(`${name}: description does not carry the schema's`);
      }
      const shown = helpDefault(name);
      if (shown !== undefined && !words(a.description).includes(`Default ${shown}`)) {
        problems.push(`${name}: description does not say "Default ${shown}"`);
      }
      // "AWS only." / "Local target only." exactly when the schema limits the option to that target.
      const only = SCHEMA.targetsOf(name).length === 1 ? SCHEMA.targetsOf(name)[0] : undefined;
      for (const t of OPTION_DEFS.target.choices) {
        const says = new RegExp(`\\b${t}( target)? only\\b`, "i").test(a.description);
        if (says !== (t === only)) problems.push(`${name}: ${says ? "says" : "does not say"} "${t} only"`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("has no other Dagger arguments than those options and the build inputs, none also in the constructor", () => {
    const fn = gray.functions[camel(verb)]!;
    const allowed = new Set<string>([...applies(verb, "dagger"), ...NOT_OPTIONS[verb]]);
    expect(fn.arguments.map((a) => a.name).filter((n) => !allowed.has(n))).toEqual([]);
    const ctor = new Set(gray.constructorArguments.map((a) => a.name));
    expect(fn.arguments.map((a) => a.name).filter((n) => ctor.has(n))).toEqual([]);
    // CLI-only options (json, reportDir) are not Dagger arguments.
    const cliOnly = OPTION_NAMES.filter((n) => !optionFrontEnds(n).includes("dagger"));
    expect(fn.arguments.map((a) => a.name).filter((n) => cliOnly.includes(n as OptionName))).toEqual([]);
  });

  it("has a CLI flag for every CLI option of the verb, with the same default in its help", () => {
    const cmd = buildProgram("0.0.0").commands.find((c) => c.name() === verb);
    expect(cmd, `CLI verb ${verb}`).toBeDefined();
    const flags = new Map(cmd!.options.map((o) => [o.long, o]));
    const problems: string[] = [];
    for (const name of applies(verb, "cli")) {
      const flag = flags.get(`--${kebab(name)}`);
      if (flag === undefined) {
        problems.push(`--${kebab(name)}: missing`);
        continue;
      }
      const shown = helpDefault(name);
      if (shown !== undefined && !flag.description.includes(`default: ${shown}`)) {
        problems.push(`--${kebab(name)}: help does not say "default: ${shown}"`);
      }
      if (!flag.description.startsWith(OPTION_DEFS[name].description)) {
        problems.push(`--${kebab(name)}: help does not start with the schema's description`);
      }
    }
    expect(problems).toEqual([]);
    expect([...flags.keys()].sort()).toEqual(
      applies(verb, "cli")
        .map((n) => `--${kebab(n)}`)
        .sort(),
    );
  });

  it("declares no default on an option argument: an omitted one is undefined, a given one counts", () => {
    const fn = gray.functions[camel(verb)]!;
    const defaulted = fn.arguments.filter((a) => a.name in OPTION_DEFS && a.defaultValue !== undefined);
    expect(defaulted.map((a) => `${a.name}=${String(a.defaultValue)}`)).toEqual([]);
  });
});

describe("the module's options: an option two or more functions take is the module's", () => {
  const takenBy = (n: OptionName) => VERBS.filter((v) => applies(v, "dagger").includes(n));
  const ctor = () => new Set(gray.constructorArguments.map((a) => a.name));

  it("puts every option two or more functions take in the constructor, in no function", () => {
    const shared = OPTION_NAMES.filter((n) => takenBy(n).length >= 2);
    expect(shared.filter((n) => !ctor().has(n))).toEqual([]);
    const inFunctions = Object.values(gray.functions).flatMap((f) =>
      f.arguments.filter((a) => shared.includes(a.name as OptionName)).map((a) => `${f.name}.${a.name}`),
    );
    expect(inFunctions).toEqual([]);
  });

  it("leaves an option only one function takes on that function", () => {
    const own = OPTION_NAMES.filter((n) => takenBy(n).length === 1);
    expect(own.length).toBeGreaterThan(0);
    expect(own.filter((n) => ctor().has(n))).toEqual([]);
    const misplaced = own.filter(
      (n) => !gray.functions[camel(takenBy(n)[0]!)]!.arguments.some((a) => a.name === n),
    );
    expect(misplaced).toEqual([]);
  });

  it("takes nothing else in the constructor than those options and the ways to reach AWS", () => {
    const names = gray.constructorArguments.map((a) => a.name);
    expect(names.filter((n) => !(n in OPTION_DEFS) && !CONSTRUCTOR_NOT_OPTIONS.includes(n))).toEqual([]);
  });
});

describe("report (the Dagger counterpart of --report-dir)", () => {
  it("takes exactly the arguments of status", () => {
    const names = (fn: string) => gray.functions[fn]!.arguments.map((a) => `${a.name}:${typeOf(a)}`);
    expect(names("report")).toEqual(names("status"));
  });
});
