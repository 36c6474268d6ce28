// Whether a TCP port can be listened on: the HTTP page and the embedded broker both need theirs.
import net from 'node:net';

/** Null when `host:port` is free, else why not (in words). */
export function portProblem(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') resolve(`${host}:${port} is already in use by another process`);
      else if (e.code === 'EACCES') resolve(`${host}:${port} needs privileges (ports below 1024)`);
      else if (e.code === 'EADDRNOTAVAIL') resolve(`${host} is not an address of this machine`);
      else resolve(`cannot listen on ${host}:${port}: ${e.message}`);
    });
    server.listen(port, host, () => server.close(() => resolve(null)));
  });
}
