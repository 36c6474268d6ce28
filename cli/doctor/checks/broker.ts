// The MQTT broker: for `embedded`, that its port is free; otherwise one real connection with the
// configured TLS files and credentials, under a timeout, without publishing anything (the agent's
// availability topic is left alone). Each way to fail gets the setting that fixes it.
import mqtt from 'mqtt';
import { describeSource } from '../../../agent/camera/source-spec.ts';
import { readTlsMaterial } from '../../../agent/mqtt/tls.ts';
import { type Check, type Finding, fail, ok } from '../check.ts';
import { portProblem } from '../port-probe.ts';

const TIMEOUT_MS = 8000;

/** The broker URL as it may be shown: a password in it becomes `***` (same masking as camera URLs). */
const shown = (url: string) => describeSource({ kind: 'http', url });

function diagnose(e: Error & { code?: unknown }, url: string): Finding {
  const code = e.code;
  if (code === 'ECONNREFUSED')
    return fail(`${url}: connection refused (nothing listens there)`, 'start the broker, or fix the host and port in mqtt.url (LINEWATCH_MQTT_URL)');
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return fail(`${url}: host name does not resolve`, 'fix the host in mqtt.url, or the DNS / /etc/hosts of this device');
  if (code === 4 || code === 5 || code === 134 || code === 135) {
    return fail(
      `${url}: the broker refused the credentials (${e.message})`,
      'set mqtt.username / mqtt.password (LINEWATCH_MQTT_PASSWORD) to an account the broker accepts',
    );
  }
  if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO|ALTNAME|TLS|SSL/.test(code + e.message)) {
    return fail(
      `${url}: TLS handshake failed (${code})`,
      'set mqtt.ca to the CA that signed the broker certificate; the certificate must name the host of mqtt.url',
    );
  }
  if (e.message === 'connack timeout') {
    return fail(
      `${url}: no CONNACK within ${TIMEOUT_MS / 1000} s`,
      'check mqtt.url: it must name an MQTT listener reachable from this device (a firewall, a proxy or another service on that port?)',
    );
  }
  return fail(`${url}: ${e.message}`, 'check mqtt.url, the network path to the broker and its log');
}

export const brokerCheck: Check = {
  name: 'broker',
  timeoutMs: TIMEOUT_MS + 2000,
  async run({ config }) {
    const m = config.mqtt;
    if (m.url === 'embedded') {
      if (m.port === 0) return ok('embedded broker on any free port');
      const problem = await portProblem('127.0.0.1', m.port);
      return problem
        ? fail(`embedded broker: ${problem}`, 'stop the other broker or set mqtt.port (LINEWATCH_MQTT_PORT)')
        : ok(`embedded broker, 127.0.0.1:${m.port} is free`);
    }
    const url = shown(m.url);
    const tls = readTlsMaterial({ ca: m.ca, cert: m.cert, key: m.key }, m.url);
    if (!tls.ok) return fail(tls.error, 'fix the mqtt TLS keys (mqtt.ca / mqtt.cert / mqtt.key) or use an mqtts:// URL');
    const client = mqtt.connect(m.url, {
      clientId: `linewatch-${config.device_id}-doctor-${process.pid}`,
      // 3.1.1: every broker speaks it, and the agent falls back to it when 5 is refused.
      protocolVersion: 4,
      username: m.username ?? undefined,
      password: m.password ?? undefined,
      ...tls.value,
      rejectUnauthorized: true,
      reconnectPeriod: 0,
      connectTimeout: TIMEOUT_MS,
    });
    // mqtt.js gives up with 'connack timeout' after connectTimeout; the timer is the same limit for a client that never reports.
    const outcome = await new Promise<Error | null>((resolve) => {
      const timer = setTimeout(() => resolve(new Error('connack timeout')), TIMEOUT_MS);
      client.once('connect', () => (clearTimeout(timer), resolve(null)));
      client.once('error', (e) => (clearTimeout(timer), resolve(e)));
    });
    client.end(true);
    if (outcome) return diagnose(outcome, url);
    return ok(`${url} accepted a connection${m.username ? ` as ${m.username}` : ''}${tls.value.ca || tls.value.cert ? ' over TLS' : ''}`);
  },
};
