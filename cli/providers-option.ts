// `--providers tensorrt,cuda,cpu` of the tuning commands (tune, eval, synth): the execution
// providers their sessions try, in order; the agent passes its model.execution_providers this
// way to the re-tune child. Without it the tuning graphs run on the CPU.
import { EXECUTION_PROVIDERS, type ExecutionProvider, isExecutionProvider } from '../models/runtime/execution-providers.ts';
import { UsageError } from './args.ts';

export const PROVIDERS_USAGE = `  --providers LIST  execution providers to try, in order, comma-separated (${EXECUTION_PROVIDERS.join(', ')});
                    cpu is added last; default cpu`;

export function providersOption(value: string | undefined): ExecutionProvider[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(',').map((n) => n.trim());
  const bad = names.filter((n) => !isExecutionProvider(n));
  if (bad.length || names.length === 0) {
    throw new UsageError(`--providers takes a comma-separated list of ${EXECUTION_PROVIDERS.join(', ')}, not '${value}'`);
  }
  return names as ExecutionProvider[];
}
