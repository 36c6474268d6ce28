// Starts and stops test/support/rtsp-server.py (GStreamer's RTSP server on 127.0.0.1) for the
// tests: a real H.264 RTSP camera that can be taken away and brought back on the same port.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { after } from 'node:test';
import { freePort } from './mqtt-harness.ts';

// The system python has python3-gi; a python on PATH (pyenv, venv) may not.
const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(import.meta.dirname, 'rtsp-server.py');

export interface RtspServerOptions {
  user?: string;
  password?: string;
  /** Seconds before the first picture of every session (a camera slow to set up). */
  firstFrameDelayS?: number;
  fps?: number;
}

const running = new Set<ChildProcess>();
after(() => {
  for (const c of running) c.kill('SIGKILL'); // a frozen (SIGSTOPped) server too
});

/** Why the server cannot run here (for `skip`), or false. */
export function rtspServerMissing(): string | false {
  try {
    execFileSync(PYTHON, ['-c', "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"], { stdio: 'ignore' });
    return false;
  } catch {
    return `${PYTHON} lacks GStreamer's RTSP server (apt-get install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly)`;
  }
}

export async function startRtspServer(o: RtspServerOptions = {}) {
  const port = await freePort();
  const args = [SCRIPT, '--port', String(port), '--fps', String(o.fps ?? 10), '--first-frame-delay', String(o.firstFrameDelayS ?? 0)];
  if (o.user) args.push('--user', o.user, '--password', o.password ?? '');
  const userinfo = o.user ? `${encodeURIComponent(o.user)}:${encodeURIComponent(o.password ?? '')}@` : '';
  let child: ChildProcess | null = null;

  /** Starts the server (again, on the same port); resolves once it listens. */
  const start = async () => {
    const c = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    child = c;
    running.add(c);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      c.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready ')) resolve();
      });
      c.once('exit', (code) => reject(new Error(`rtsp-server.py exited with code ${code} before it was ready`)));
    });
  };
  /** Stops the server the way a camera that loses power does: at once (SIGKILL). */
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
    running.delete(c);
  };
  /** Freezes the server (SIGSTOP): connections stay open and nothing comes, like a camera gone off the network. */
  const pause = () => child?.kill('SIGSTOP');
  /** Lets a frozen server go on (SIGCONT). */
  const resume = () => child?.kill('SIGCONT');
  await start();
  return { url: `rtsp://${userinfo}127.0.0.1:${port}/stream`, port, start, stop, pause, resume };
}
