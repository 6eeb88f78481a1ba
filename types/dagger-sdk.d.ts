/**
 * `@dagger.io/dagger` for type-checking where `dagger develop` has not generated ./sdk (a fresh clone,
 * CI): the published SDK of the same engine version, installed as the devDependency `dagger-sdk`.
 *
 * tsconfig.json's `paths` map the module to ./sdk/index.ts exactly as the Dagger runtime and `dagger
 * develop` write them (sdk/typescript/runtime/tsutils/tsconfig_updator.go), so `dagger develop` leaves
 * tsconfig.json unchanged. When ./sdk exists TypeScript resolves the import to it; when it does not,
 * it falls back to this ambient declaration. Not under src/: the runtime imports every .ts file there.
 */
declare module "@dagger.io/dagger" {
  export * from "dagger-sdk";
}
