/** The outcome of validating one message: the value, or why it was rejected. */
export type Validation<T, Reason extends string> =
  | { ok: true; value: T }
  | { ok: false; reason: Reason; detail: string };

export function reject<Reason extends string>(reason: Reason, detail: string): { ok: false; reason: Reason; detail: string } {
  return { ok: false, reason, detail };
}
