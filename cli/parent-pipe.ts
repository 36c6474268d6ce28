// A child the agent starts (the re-tune's tuner) must not outlive the agent: killed with SIGKILL,
// the agent cannot stop it, and an orphan would go on to write the prompt store on its own. So
// the agent passes the read end of a pipe whose write end only it holds; end-of-file on it means
// the agent is gone, whatever killed it, and the child exits at once, writing nothing more.
import net from 'node:net';
import { UsageError } from './args.ts';

export function exitWhenParentGone(fd: number, command: string): void {
  let gone = false;
  const exit = () => {
    if (gone) return;
    gone = true;
    try {
      process.stderr.write(`linewatch ${command}: the process that started it is gone (fd ${fd} closed); stopping without writing anything\n`);
    } finally {
      process.exit(1);
    }
  };
  let pipe: net.Socket;
  try {
    pipe = new net.Socket({ fd, readable: true, writable: false });
  } catch (e) {
    throw new UsageError(`--parent-pipe ${fd}: not an open pipe (${(e as Error).message})`);
  }
  pipe.on('end', exit);
  pipe.on('close', exit);
  pipe.on('error', exit);
  pipe.resume();
  // Watching must not keep a finished run alive.
  pipe.unref();
}
