// What one doctor check is: a name, a time limit and a run that answers ok / warn / fail (or
// skip) with a one-line detail and, for every problem, the action that fixes it. The command
// runs a table of these, so adding a check is adding a file.
import type { AgentConfig } from '../../agent/config.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Finding {
  status: CheckStatus;
  detail: string;
  /** What to do about it; required in spirit for warn and fail. */
  action?: string;
}

export interface DoctorContext {
  config: AgentConfig;
  configFile: string;
}

export interface Check {
  name: string;
  timeoutMs: number;
  run(ctx: DoctorContext): Promise<Finding>;
}

export const ok = (detail: string): Finding => ({ status: 'ok', detail });
export const warn = (detail: string, action: string): Finding => ({ status: 'warn', detail, action });
export const fail = (detail: string, action: string): Finding => ({ status: 'fail', detail, action });
