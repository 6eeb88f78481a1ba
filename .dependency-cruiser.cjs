/**
 * The direction of imports under src/, checked by `npm run lint` (so by .ci/run) and by
 * test/architecture/imports.test.ts. docs/architecture.md explains the layers; in short, from the
 * inside out, each layer may import only the layers before it:
 *
 *   contract ← domain (core, gates) ← ports ← engine ← adapters (aws, local, zabbix: any other folder)
 *            ← listeners (report, notify) ← app ← front ends (cli, dagger, index.ts, guard)
 *
 * Adapter families never import each other, front ends never import each other nor an adapter (they
 * go through src/app), and nothing is circular.
 */
const CONTRACT = "^src/contract/";
const DOMAIN = "^src/(core|gates)/";
const PORTS = "^src/ports/";
const ENGINE = "^src/engine/";
/** Every other folder under src/ is an adapter family (a target or a gate source): aws, local, zabbix… */
const ADAPTERS = "^src/(?!(?:contract|core|gates|ports|engine|report|notify|app|cli|dagger|guard)/)[^/]+/";
const LISTENERS = "^src/(report|notify)/";
const APP = "^src/app/";
const FRONT_ENDS = "^src/(cli/|dagger/|guard/|index\\.ts$)";
/** What the guard may open directly (see the rule of the same name). */
const GUARD_OPENS = "^src/aws/target\\.ts$";

/** `from` may import nothing matching `to`. */
const layer = (name, from, to, comment) => ({
  name,
  comment,
  severity: "error",
  from: { path: from },
  to: { path: to },
});

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "a cycle makes two modules one: neither can change or be tested alone",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    layer(
      "contract-is-innermost",
      CONTRACT,
      "^src/(?!contract/)",
      "the contract (errors, Outcome, units, option machinery) imports nothing else of gray-deploy",
    ),
    layer(
      "domain-is-pure",
      DOMAIN,
      `${ADAPTERS}|^src/(ports|engine|report|notify|app|cli|dagger|guard)/|^src/index\\.ts$`,
      "core and gates decide on data: only the contract and each other",
    ),
    layer(
      "ports-speak-the-domain",
      PORTS,
      `${ADAPTERS}|^src/(engine|report|notify|app|cli|dagger|guard)/|^src/index\\.ts$`,
      "ports are interfaces in the domain's words",
    ),
    layer(
      "engine-knows-no-adapter",
      ENGINE,
      `${ADAPTERS}|${LISTENERS}|${APP}|${FRONT_ENDS}`,
      "the engine drives ports; targets and gate sources are registered in src/app",
    ),
    layer(
      "adapters-below-app",
      ADAPTERS,
      `${LISTENERS}|${APP}|${FRONT_ENDS}`,
      "adapters implement ports; they know nothing of who opens them",
    ),
    {
      name: "adapter-families-are-self-contained",
      comment:
        "an adapter family (src/aws, src/local, src/zabbix, …) imports inner layers only, never another family: each is opened through the registries in src/app",
      severity: "error",
      from: { path: ADAPTERS.replace("[^/]+/", "([^/]+)/") },
      to: { path: ADAPTERS, pathNot: "^src/$1/" },
    },
    layer(
      "listeners-below-app",
      LISTENERS,
      `${ADAPTERS}|${APP}|${FRONT_ENDS}`,
      "reports and notifications read engine events and Outcomes only",
    ),
    layer("app-below-front-ends", APP, FRONT_ENDS, "the application layer serves every front end alike"),
    {
      name: "front-ends-go-through-app",
      comment:
        "a front end parses input and prints results: it reaches targets, gates and verbs through src/app (types of the domain and the ports may be named)",
      severity: "error",
      from: { path: FRONT_ENDS, pathNot: "^src/guard/" },
      to: { path: `${ADAPTERS}|^src/(core|gates|ports)/`, dependencyTypesNot: ["type-only"] },
    },
    {
      name: "the-guard-opens-only-the-aws-target",
      comment: "the guard is the AWS target's own watchdog (a Lambda): it opens that target, nothing else",
      severity: "error",
      from: { path: "^src/guard/" },
      to: { path: ADAPTERS, pathNot: GUARD_OPENS },
    },
    {
      name: "front-ends-are-independent",
      comment: "the CLI, the Dagger module and the guard share code through src/app, never sideways",
      severity: "error",
      from: { path: "^src/(cli|dagger|guard)/" },
      to: { path: FRONT_ENDS, pathNot: "^src/$1/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(sdk|node_modules)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default"],
    },
  },
};
