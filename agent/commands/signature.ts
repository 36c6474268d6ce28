import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Command signatures (when `mqtt.command_secret` is set).
 *
 * A signed command is a JSON object with two extra fields:
 *   ts   integer, milliseconds since the Unix epoch when the command was made
 *   sig  lowercase hex HMAC-SHA256, keyed with the secret (its UTF-8 bytes), over the UTF-8 bytes of
 *        "linewatch-cmd-v1\n" + <command name> + "\n" + <canonical JSON of the object without sig>
 * Canonical JSON: object keys sorted by code unit at every depth, no whitespace, strings and numbers
 * as JSON.stringify writes them (Python: json.dumps(obj, sort_keys=True, separators=(",", ":"),
 * ensure_ascii=False)). The command name is signed so a captured `status` cannot be replayed as
 * `retune`; `ts` must be within ±5 minutes of the agent's clock, and a signature already accepted
 * within that window is refused, so a captured command cannot be replayed either.
 */
export const SIGNATURE_WINDOW_MS = 5 * 60 * 1000;
const DOMAIN = 'linewatch-cmd-v1';

/**
 * Canonical JSON, built with an explicit work list rather than recursion, so the stack never depends
 * on how deep the value nests (the dispatcher limits depth too; this stays safe for any caller).
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  // What is left to write, last first: a value, or literal text (brackets, commas, `"key":`).
  const todo: Array<{ text: string } | { value: unknown }> = [{ value }];
  while (todo.length > 0) {
    const item = todo.pop()!;
    if ('text' in item) {
      out.push(item.text);
      continue;
    }
    const v = item.value;
    if (v === null || typeof v !== 'object') {
      out.push(JSON.stringify(v));
      continue;
    }
    // Pushed in reverse, so the opening bracket comes off the list first.
    if (Array.isArray(v)) {
      todo.push({ text: ']' });
      for (let i = v.length - 1; i >= 0; i--) todo.push({ value: v[i] }, { text: i ? ',' : '' });
      todo.push({ text: '[' });
    } else {
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      todo.push({ text: '}' });
      for (let i = keys.length - 1; i >= 0; i--) todo.push({ value: obj[keys[i]] }, { text: `${i ? ',' : ''}${JSON.stringify(keys[i])}:` });
      todo.push({ text: '{' });
    }
  }
  return out.join('');
}

function hmacHex(secret: string, name: string, unsigned: Record<string, unknown>): string {
  return createHmac('sha256', secret)
    .update(`${DOMAIN}\n${name}\n${canonicalJson(unsigned)}`, 'utf8')
    .digest('hex');
}

/** For tools that send commands (the `retune` CLI): adds `ts` and `sig` to `body`. */
export function signCommand(secret: string, name: string, body: Record<string, unknown>, now = Date.now()): Record<string, unknown> {
  const { sig: _old, ...rest } = body;
  const unsigned = { ...rest, ts: now };
  return { ...unsigned, sig: hmacHex(secret, name, unsigned) };
}

export interface SignatureVerifier {
  /** Null when `body` carries a valid, fresh, unused signature for command `name`; else why not. */
  problem(name: string, body: Record<string, unknown>): string | null;
}

export function createSignatureVerifier(secret: string, now: () => number = Date.now): SignatureVerifier {
  // Signatures accepted within the window, with when they stop being acceptable anyway.
  const seen = new Map<string, number>();
  const forgetExpired = (t: number) => {
    for (const [sig, expires] of seen) if (expires < t) seen.delete(sig);
  };
  return {
    problem(name, body) {
      const { sig, ...unsigned } = body;
      if (sig === undefined) return 'this agent requires signed commands: add "ts" and "sig" (HMAC-SHA256, see the docs)';
      if (typeof sig !== 'string' || !/^[0-9a-f]{64}$/.test(sig)) return '"sig" must be 64 lowercase hex digits';
      const ts = unsigned.ts;
      if (typeof ts !== 'number' || !Number.isInteger(ts)) return '"ts" must be an integer (milliseconds since the Unix epoch)';
      const t = now();
      if (Math.abs(t - ts) > SIGNATURE_WINDOW_MS) return `"ts" is more than ${SIGNATURE_WINDOW_MS / 60000} minutes away from the agent's clock`;
      const expected = Buffer.from(hmacHex(secret, name, unsigned), 'hex');
      if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) return 'bad signature';
      forgetExpired(t);
      if (seen.has(sig)) return 'this signed command was already used (replay)';
      seen.set(sig, ts + SIGNATURE_WINDOW_MS);
      return null;
    },
  };
}
