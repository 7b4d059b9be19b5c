import type { RetainedValue, ServerFrame } from "../../../src/protocol/index.js";

/**
 * A logged event the producer asked to retain (it carries `retain_key`) becomes the
 * state's current value under that key, as the hub keeps it for the next joiner's snapshot.
 */
export function applyRetained<S extends { retained: Record<string, RetainedValue> }>(state: S, frame: ServerFrame<string, any>): S {
  if (frame.retain_key === undefined || frame.seq === undefined) return state;
  const value: RetainedValue = { type: frame.type, data: frame.data ?? null, seq: frame.seq, ts: frame.ts };
  return { ...state, retained: { ...state.retained, [frame.retain_key]: value } };
}
