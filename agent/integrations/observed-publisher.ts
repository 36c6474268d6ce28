// Feeds the integrations from the contract publisher: the agent's cameras already report results,
// camera states and stats there, so wrapping it is the one place to tap them, and integrations see
// exactly what the contract published (same rate limit). An integration that throws is logged; it
// cannot stop a result from going out.
import { createLogger } from '../../util/log.ts';
import type { ContractPublisher } from '../mqtt/publisher.ts';
import type { Integration } from './integration.ts';

const log = createLogger('integrations');

export function observePublisher(inner: ContractPublisher, integrations: readonly Integration[]): ContractPublisher {
  if (integrations.length === 0) return inner;
  const tell = (what: string, call: (i: Integration) => void) => {
    for (const i of integrations) {
      try {
        call(i);
      } catch (e) {
        log.error(`integration ${i.name} failed on ${what}`, { error: (e as Error)?.stack ?? String(e) });
      }
    }
  };
  return {
    ...inner,
    cameraStatus(camera, state, reason) {
      tell('a camera status', (i) => i.onCameraStatus?.(camera, state));
      return inner.cameraStatus(camera, state, reason);
    },
    result(camera, result) {
      const sent = inner.result(camera, result);
      if (sent) tell('a result', (i) => i.onResult?.(camera, result));
      return sent;
    },
    stats(stats) {
      tell('stats', (i) => i.onStats?.(stats));
      return inner.stats(stats);
    },
  };
}
