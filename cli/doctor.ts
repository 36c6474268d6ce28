// `linewatch doctor [--config FILE] [--json]`: every prerequisite of `run` checked before start,
// one line each with ok / warn / fail / skip and, for each problem, the action that fixes it.
// Exit 0 when nothing fails, 1 otherwise; --json gives the same report to fleet tooling.
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../agent/config.ts';
import { parseOptions, runCommand } from './args.ts';
import type { CheckStatus } from './doctor/check.ts';
import { checksFor } from './doctor/checks.ts';
import { type CheckReport, runChecks } from './doctor/run-checks.ts';

const DEFAULT_CONFIG = fileURLToPath(new URL('../config/default.yaml', import.meta.url));
const USAGE = `usage: linewatch doctor [--config FILE] [--json]

Checks what \`linewatch run --config FILE\` needs (default: the embedded demo, config/default.yaml,
with LINEWATCH_* variables applied): Node.js, ffmpeg and its decoders, the execution providers,
the bundle's checksums, the prompt store, data_dir, the broker, each camera and the HTTP port.
One line per check, with the action that fixes each problem. Exit 0 when nothing fails, else 1.
`;

const LABEL: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

function line(r: CheckReport): string {
  return `${LABEL[r.status]} ${r.name}: ${r.detail}${r.action ? ` -> ${r.action}` : ''}\n`;
}

export async function run(argv: string[]): Promise<number> {
  return runCommand('doctor', USAGE, async () => {
    const values = parseOptions(argv, { config: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    const configFile = values.config ?? DEFAULT_CONFIG;
    const config = loadConfig(configFile);
    const reports: CheckReport[] = config.ok
      ? await runChecks(checksFor(config.value), { config: config.value, configFile })
      : [
          {
            name: 'config',
            status: 'fail',
            detail: `${configFile}: ${config.error.split('\n').join('; ')}`,
            action: `fix those keys (linewatch validate-config --config ${configFile})`,
            ms: 0,
          },
        ];
    const failed = reports.some((r) => r.status === 'fail');
    if (values.json) process.stdout.write(`${JSON.stringify({ config: configFile, ok: !failed, checks: reports }, null, 2)}\n`);
    else for (const r of reports) process.stdout.write(line(r));
    return failed ? 1 : 0;
  });
}
