// Which `Host` header values the HTTP server answers to. A browser that a hostile page has pointed
// at this agent through DNS rebinding (evil.example resolving to 127.0.0.1) sends that page's name
// as Host, and as Origin too, so comparing Origin with Host proves nothing on its own: the Host
// itself must be one of ours: the bound address, a loopback name, or an `http.allowed_hosts` entry.

/** Host header value split into a lower-case name (IPv6 keeps its brackets) and a port. */
function parseHost(value: string): { name: string; port: number } | null {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(value);
  if (!m) return null;
  return { name: m[1].toLowerCase(), port: m[2] === undefined ? 80 : Number(m[2]) };
}

export interface HostCheck {
  /** Null when the server answers to `host` (the request's Host header); else why not. */
  problem(host: string | undefined): string | null;
}

/**
 * `bound`: the address the server listens on and its port. `allowed`: `host` (any port) or
 * `host:port` entries, compared case-insensitively.
 */
export function createHostCheck(bound: { host: string; port: number }, allowed: readonly string[]): HostCheck {
  const boundName = bound.host.includes(':') ? `[${bound.host}]` : bound.host;
  const onBoundPort = new Set(['localhost', '127.0.0.1', '[::1]', boundName.toLowerCase()]);
  const anyPort = new Set<string>();
  const exact = new Set<string>();
  for (const entry of allowed) {
    const parsed = parseHost(entry);
    if (parsed && /:\d+$/.test(entry)) exact.add(`${parsed.name}:${parsed.port}`);
    else anyPort.add(entry.toLowerCase());
  }
  return {
    problem(host) {
      if (host === undefined || host === '') return 'no Host header: send the address you reached this agent at';
      const parsed = parseHost(host);
      const ours =
        parsed !== null &&
        ((onBoundPort.has(parsed.name) && parsed.port === bound.port) || anyPort.has(parsed.name) || exact.has(`${parsed.name}:${parsed.port}`));
      return ours ? null : `this agent does not answer to host ${JSON.stringify(host.slice(0, 100))}; add it to http.allowed_hosts if it is a name of this agent`;
    },
  };
}
