// Runs the checks side by side, each under its own time limit, so one hung probe (a camera that
// never answers, a broker behind a firewall) costs its own timeout and not the whole report.
import type { Check, DoctorContext, Finding } from './check.ts';

export interface CheckReport extends Finding {
  name: string;
  ms: number;
}

async function runOne(check: Check, ctx: DoctorContext): Promise<CheckReport> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<Finding>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          status: 'fail',
          detail: `no answer within ${check.timeoutMs / 1000} s`,
          action: 'see the other lines; rerun with LINEWATCH_LOG_LEVEL=debug',
        }),
      check.timeoutMs,
    );
  });
  const finding = await Promise.race([
    check
      .run(ctx)
      .catch((e: unknown): Finding => ({ status: 'fail', detail: `the check itself failed: ${(e as Error).message}`, action: 'report this as a bug' })),
    timedOut,
  ]).finally(() => clearTimeout(timer));
  return { name: check.name, ...finding, ms: Date.now() - started };
}

export function runChecks(checks: Check[], ctx: DoctorContext): Promise<CheckReport[]> {
  return Promise.all(checks.map((c) => runOne(c, ctx)));
}
