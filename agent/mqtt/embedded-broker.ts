import net from 'node:net';
import { Aedes } from 'aedes';
import { createLogger } from '../../util/log.ts';
import { err, ok, type Result } from '../../util/result.ts';

const log = createLogger('broker');

/**
 * The in-process broker behind `mqtt.url: embedded`. aedes speaks MQTT 3.1.1 only: clients that
 * ask for MQTT 5 are refused with "unacceptable protocol version" and the publisher falls back to 4.
 */
export interface EmbeddedBroker {
  readonly host: string;
  readonly port: number;
  /** Closes the listener, every client connection and the broker. */
  stop(): Promise<void>;
}

export interface EmbeddedBrokerOptions {
  /** Loopback by default: the embedded broker is for the demo and local tools, not the plant network. */
  host?: string;
  /** 0 picks a free port (tests). */
  port: number;
}

export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions): Promise<Result<EmbeddedBroker>> {
  const host = opts.host ?? '127.0.0.1';
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  const listening = await new Promise<Result<number>>((resolve) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const reason = e.code === 'EADDRINUSE' ? 'the port is already in use (EADDRINUSE): set mqtt.port or stop the other process' : e.message;
      resolve(err(`embedded MQTT broker cannot listen on ${host}:${opts.port}: ${reason}`));
    });
    server.listen(opts.port, host, () => resolve(ok((server.address() as net.AddressInfo).port)));
  });
  if (!listening.ok) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    return listening;
  }
  const port = listening.value;
  log.info('embedded MQTT broker listening', { host, port });

  let stopped: Promise<void> | null = null;
  const stop = () => {
    stopped ??= (async () => {
      // server.close waits for open sockets; broker.close ends them, so start both.
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await serverClosed;
      log.info('embedded MQTT broker stopped', { port });
    })();
    return stopped;
  };
  return ok({ host, port, stop });
}
