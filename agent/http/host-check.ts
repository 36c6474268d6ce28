// Which `Host` header values the HTTP server answers to. A browser that a hostile page has pointed
// at this agent through DNS rebinding (evil.example resolving to 127.0.0.1) sends that page's name
// as Host, and as Origin too, so comparing Origin with Host proves nothing on its own: the Host
// itself must be one of ours: the bound address, a loopback name, or an `http.allowed_hosts` entry.

/** A Host value split into a lower-case name (IPv6 in brackets) and its port, null when it has none. */
function parseHost(value: string): { name: string; port: number | null } | null {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(value);
  return m ? { name: m[1].toLowerCase(), port: m[2] === undefined ? null : Number(m[2]) } : null;
}

/** An `http.allowed_hosts` entry; a bare IPv6 address (`fe80::1`) is a name without a port. */
const parseAllowed = (entry: string) =>
  /^[0-9a-f]*:[0-9a-f]*:[0-9a-f:.]*$/i.test(entry) ? { name: `[${entry.toLowerCase()}]`, port: null } : parseHost(entry);

export interface HostCheck {
  /** Null when the server answers to `host` (the request's Host header); else why not. */
  problem(host: string | undefined): string | null;
}

/**
 * `bound`: the address the server listens on and its port. `allowed`: `host` (any port) or
 * `host:port` entries, compared case-insensitively; an entry that is no host name never matches.
 */
export function createHostCheck(bound: { host: string; port: number }, allowed: readonly string[]): HostCheck {
  const boundName = bound.host.includes(':') ? `[${bound.host}]` : bound.host;
  const onBoundPort = new Set(['localhost', '127.0.0.1', '[::1]', boundName.toLowerCase()]);
  const anyPort = new Set<string>();
  const exact = new Set<string>();
  for (const entry of allowed) {
    const parsed = parseAllowed(entry);
    if (parsed?.port === null) anyPort.add(parsed.name);
    else if (parsed) exact.add(`${parsed.name}:${parsed.port}`);
  }
  return {
    problem(host) {
      if (host === undefined || host === '') return 'no Host header: send the address you reached this agent at';
      const parsed = parseHost(host);
      // No port in Host means the scheme's default, 80.
      const port = parsed?.port ?? 80;
      const ours =
        parsed !== null && ((onBoundPort.has(parsed.name) && port === bound.port) || anyPort.has(parsed.name) || exact.has(`${parsed.name}:${port}`));
      return ours
        ? null
        : `this agent does not answer to host ${JSON.stringify(host.slice(0, 100))}; add it to http.allowed_hosts if it is a name of this agent`;
    },
  };
}
