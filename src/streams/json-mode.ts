// JSON mode (protocol section 7.1): an application/json stream keeps message boundaries.
// An append's messages are stored as one row of compact JSON values joined by ",", so a
// read is "[" + rows joined by "," + "]" with no parsing, and a message count per row
// lets a fork take the first n messages of an append.
import { concatBytes } from "../bytes";
import { HubError } from "../errors";

const encoder = new TextEncoder();
const COMMA = encoder.encode(",");
const OPEN = encoder.encode("[");
const CLOSE = encoder.encode("]");

export interface JsonAppend {
  /** The row to store; empty when the body was `[]`. */
  data: Uint8Array;
  messages: number;
}

/**
 * Validates an append body and flattens exactly one level of array. `allowEmptyArray`
 * is true for PUT (an empty `[]` creates an empty stream) and false for POST.
 */
export function parseJsonAppend(body: Uint8Array, allowEmptyArray: boolean): JsonAppend {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body));
  } catch {
    throw new HubError("validation_failed", "body is not valid JSON (UTF-8)");
  }
  const messages = Array.isArray(value) ? value : [value];
  if (messages.length === 0 && !allowEmptyArray) throw new HubError("validation_failed", "an empty JSON array appends nothing");
  let text: string;
  try {
    text = messages.map((m) => JSON.stringify(m)).join(",");
  } catch {
    throw new HubError("validation_failed", "body nests too deeply");
  }
  return { data: encoder.encode(text), messages: messages.length };
}

/** The first `count` messages of a stored row. */
export function firstMessages(row: Uint8Array, count: number): Uint8Array {
  const values = JSON.parse(`[${new TextDecoder().decode(row)}]`) as unknown[];
  return encoder.encode(
    values
      .slice(0, count)
      .map((m) => JSON.stringify(m))
      .join(","),
  );
}

/** A JSON-mode response body: every message of `rows` in one array. */
export function jsonArray(rows: readonly Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [OPEN];
  rows.forEach((row, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(row);
  });
  parts.push(CLOSE);
  return concatBytes(parts);
}
