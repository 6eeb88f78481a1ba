export {
  connection,
  connect,
  Context,
  func,
  check,
  generate,
  argument,
  object,
  field,
  enumType,
  entrypoint,
} from "./core.js"

export type { ConnectOpts, CallbackFct } from "./core.js"

export * from "./client.gen.js"
