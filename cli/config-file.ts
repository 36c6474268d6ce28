// The --config FILE of run, validate-config and retune: loaded and validated one way, with every
// problem listed and exit code 2 when there is one.
import { type AgentConfig, loadConfig } from '../agent/config.ts';
import { UserError } from '../util/result.ts';

export function loadConfigFile(file: string): AgentConfig {
  const config = loadConfig(file);
  if (config.ok) return config.value;
  throw new UserError(
    `invalid configuration ${file}:\n${config.error
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n')}`,
    2,
  );
}
