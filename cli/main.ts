// `linewatch <command>`: one dispatcher; each command lives in its own module and returns an exit code.
import { redact } from '../util/redact.ts';
import { UserError } from '../util/result.ts';

type Command = { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> };

const commands: Record<string, Command> = {
  run: { summary: 'run the agent: linewatch run --config FILE', load: () => import('./run.ts') },
  'validate-config': { summary: 'check a configuration file without starting', load: () => import('./validate-config.ts') },
  model: { summary: 'model build | check | pull', load: () => import('./model.ts') },
  synth: { summary: 'write OAGM synthetic anomalies for a folder of normal images', load: () => import('./synth.ts') },
  tune: { summary: 'learn a prompt set from normal images', load: () => import('./tune.ts') },
  eval: { summary: 'evaluate on an MVTec-AD-layout dataset', load: () => import('./eval.ts') },
  retune: { summary: 'ask a running agent to re-tune (over MQTT)', load: () => import('./retune.ts') },
  doctor: { summary: 'check every prerequisite of run, with the fix for each problem', load: () => import('./doctor.ts') },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(16)} ${c.summary}`);
  return `usage: linewatch <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`linewatch: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const mod = await command.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // Messages may quote a source URL or a configured value: redacted like every other output.
    if (e instanceof UserError) {
      process.stderr.write(`linewatch: ${redact(e.message)}\n`);
      process.exitCode = e.exitCode;
    } else {
      process.stderr.write(`linewatch: internal error: ${redact(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
      process.exitCode = 1;
    }
  },
);
