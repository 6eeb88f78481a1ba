/**
 * What decide() returns: a tagged decision with its reason and the gate results it was made from.
 * The engine applies it; the core never performs it.
 */
import type { GateResult } from "./analysis.js";
import type { PauseReason } from "./state.js";
import type { Weights } from "./types.js";

export type Decision =
  | {
      readonly kind: "set-weights";
      readonly phase: "shifting" | "returning";
      readonly stepIndex: number;
      readonly weights: Weights;
      /** The chosen-customers step: the pilot rule is switched on (the weights stay stable 100). */
      readonly pilot?: boolean;
      readonly reason: string;
      readonly evidence: readonly GateResult[];
    }
  | {
      readonly kind: "wait";
      readonly until: number;
      readonly reason: string;
      readonly evidence: readonly GateResult[];
    }
  | {
      readonly kind: "await-approval";
      readonly gate: string;
      readonly reason: string;
      readonly evidence: readonly GateResult[];
    }
  | {
      readonly kind: "pause";
      readonly pauseReason: PauseReason;
      /** Weights to write (and verify) before pausing, when the pause moves traffic. */
      readonly weights?: Weights;
      readonly reason: string;
      readonly evidence: readonly GateResult[];
    }
  | { readonly kind: "promote"; readonly reason: string; readonly evidence: readonly GateResult[] }
  /** keep-previous: 100% passed; gray keeps the traffic and stable the previous version until `until`. */
  | {
      readonly kind: "keep";
      readonly until: number;
      readonly reason: string;
      readonly evidence: readonly GateResult[];
    }
  | { readonly kind: "rollback"; readonly reason: string; readonly evidence: readonly GateResult[] }
  | { readonly kind: "done"; readonly reason: string; readonly evidence: readonly GateResult[] };
