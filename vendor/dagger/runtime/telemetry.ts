import { getTracer } from "./core.js"

export { getTracer }
