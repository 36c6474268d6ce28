// Shared by the MQTT tests: temp dirs cleaned up after the file, free loopback ports, a real
// mosquitto started and stopped by the test, and an observing client that can wait for messages.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, promises as fs, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';

const tempRoots: string[] = [];
// Test clients still open when a test fails would keep the process alive.
const openClients = new Set<MqttClient>();
after(async () => {
  for (const c of openClients) c.end(true);
  for (const r of tempRoots) await fs.rm(r, { recursive: true, force: true });
});
export async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'linewatch-mqtt-'));
  tempRoots.push(dir);
  return dir;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export async function waitForPort(port: number): Promise<void> {
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
}

/** mosquitto lives in /usr/sbin, which a non-root PATH often lacks. */
export function findExecutable(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin'];
  for (const d of dirs) if (d && existsSync(path.join(d, name))) return path.join(d, name);
  return null;
}

/** A private CA and a server certificate for 127.0.0.1 (EC keys: quick to make). */
export function makeCertificates(openssl: string, dir: string) {
  const run = (...args: string[]) => execFileSync(openssl, args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=linewatch test CA');
  run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'san.ext');
  return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
}

/**
 * A real mosquitto on a free loopback port, with persistence so a restart keeps sessions.
 * `security` replaces anonymous access (TLS files, password file).
 */
export async function startMosquitto(bin: string, security: string[] = ['allow_anonymous true'], scheme = 'mqtt') {
  const dir = await tempDir();
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  await fs.writeFile(
    conf,
    `${[
      `listener ${port} 127.0.0.1`,
      ...security,
      'persistence true',
      `persistence_location ${dir}/`,
      // Run as root, mosquitto would switch to the "mosquitto" user, which cannot write our temp dir.
      `user ${os.userInfo().username}`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
    ].join('\n')}\n`,
  );
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitForPort(port);
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  };
  await start();
  return { url: `${scheme}://127.0.0.1:${port}`, start, stop };
}

export interface Received {
  topic: string;
  payload: Buffer;
  packet: IPublishPacket;
}

/** A test client that keeps every message it got and can wait for one that matches. */
export async function observer(url: string, options: IClientOptions, filters: string[]) {
  const client: MqttClient = mqtt.connect(url, { reconnectPeriod: 200, ...options });
  openClients.add(client);
  const got: Received[] = [];
  const waiting = new Set<() => void>();
  client.on('message', (topic, payload, packet) => {
    got.push({ topic, payload, packet });
    for (const w of waiting) w();
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  if (filters.length) await client.subscribeAsync(filters, { qos: 1 });
  const find = (match: (m: Received) => boolean, from = 0) => got.slice(from).find(match);
  const next = (match: (m: Received) => boolean, from = 0) =>
    new Promise<Received>((resolve) => {
      const check = () => {
        const m = find(match, from);
        if (m) {
          waiting.delete(check);
          resolve(m);
        }
      };
      waiting.add(check);
      check();
    });
  return { client, got, next };
}
