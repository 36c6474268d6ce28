// Looking for secrets in what the agent puts out: each secret found in a text becomes a message
// naming where, so that a test can collect them all and assert there are none.

/** The agent's HTTP answers a client can read. */
export const AGENT_HTTP_PATHS = ['/healthz', '/api/state', '/metrics', '/', '/app.js'];

export function leaksIn(secrets: readonly string[], where: string, text: string): string[] {
  return secrets.filter((s) => text.includes(s)).map((s) => `${where} contains '${s}': ${text.slice(0, 400)}`);
}

/** The secrets found in every answer of the agent's HTTP server at `base`. */
export async function httpLeaks(secrets: readonly string[], base: string): Promise<string[]> {
  const leaks: string[] = [];
  for (const p of AGENT_HTTP_PATHS) leaks.push(...leaksIn(secrets, `GET ${p}`, await (await fetch(`${base}${p}`)).text()));
  return leaks;
}
