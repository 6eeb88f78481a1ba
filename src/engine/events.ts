/**
 * Structured events the engine emits while it runs: the CLI turns them into progress lines, reports
 * into a timeline, notifications into messages. Emitting never throws into the engine.
 */
import type { Outcome } from "../contract/outcome.js";
import type { Analysis, Observation } from "../core/analysis.js";
import type { Decision } from "../core/decide.js";
import type { HookCall } from "../core/hooks.js";
import type { Phase } from "../core/state.js";
import type { Weights } from "../core/types.js";
import type { SyntheticRun } from "../gates/synthetic.js";

export type EngineEvent =
  | {
      readonly type: "phase";
      readonly at: number;
      readonly from: Phase | null;
      readonly to: Phase;
      readonly rolloutId: string;
    }
  | {
      readonly type: "observation";
      readonly at: number;
      readonly phase: Phase;
      readonly weights: Weights;
      readonly observation: Observation;
      readonly analysis: Analysis | null;
    }
  | { readonly type: "decision"; readonly at: number; readonly phase: Phase; readonly decision: Decision }
  | { readonly type: "weights"; readonly at: number; readonly weights: Weights; readonly verified: boolean }
  | {
      readonly type: "log";
      readonly at: number;
      readonly level: "info" | "warn" | "error";
      readonly message: string;
    }
  | { readonly type: "outcome"; readonly at: number; readonly outcome: Outcome }
  /** A synthetic transaction ran against gray (before traffic, or during a step). */
  | { readonly type: "synthetic"; readonly at: number; readonly run: SyntheticRun }
  /** A lifecycle hook was called (or skipped by a person's override). */
  | { readonly type: "hook"; readonly at: number; readonly call: HookCall }
  /** The chosen-customers rule was switched (and read back). */
  | { readonly type: "pilot"; readonly at: number; readonly enabled: boolean };

export type EventListener = (event: EngineEvent) => void;

/** Calls every listener, isolating the engine from listener failures. */
export function fanOut(...listeners: (EventListener | undefined)[]): EventListener {
  const active = listeners.filter((l): l is EventListener => l !== undefined);
  return (event) => {
    for (const l of active) {
      try {
        l(event);
      } catch {
        // A broken progress printer or notifier must never break a rollout.
      }
    }
  };
}
