// Errors are values: a failing step returns a message a user can act on instead of throwing.
export type Result<T, E = string> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const err = <T = never>(error: string): Result<T> => ({ ok: false, error });

/** Thrown only at boundaries where a Result cannot travel (deep inside a build); the CLI prints `message`. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** Unwraps a Result at a boundary that reports errors by throwing. */
export function unwrap<T>(r: Result<T>, context?: string): T {
  if (r.ok) return r.value;
  throw new UserError(context ? `${context}: ${r.error}` : r.error);
}
