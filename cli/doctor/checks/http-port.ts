// The live page's port: taken by another process (often a second agent) means a refused start.
import { type Check, fail, ok } from '../check.ts';
import { portProblem } from '../port-probe.ts';

export const httpPortCheck: Check = {
  name: 'http port',
  timeoutMs: 5000,
  async run({ config }) {
    const { enabled, host, port } = config.http;
    if (!enabled) return ok('http.enabled is false');
    if (port === 0) return ok(`${host}: any free port`);
    const problem = await portProblem(host, port);
    return problem ? fail(problem, 'stop the other process (ss -ltnp shows it) or set http.port (LINEWATCH_HTTP_PORT)') : ok(`${host}:${port} is free`);
  },
};
