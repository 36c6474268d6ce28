// What the embedded demo prints once it runs: where to look (the page, the MQTT topics with a
// ready mosquitto_sub line) and the two commands that replace the random-weight demo model by
// real CLIP weights. A newcomer's first start should not need the README to find its output.

export interface DemoGuideInput {
  /** null when the page is disabled. */
  page: { host: string; port: number } | null;
  broker: { host: string; port: number };
  /** `P` of the MQTT contract: `<topic_prefix>/<device_id>`. */
  topicRoot: string;
  dataDir: string;
}

const REAL_WEIGHTS = 'openai/clip-vit-base-patch16';

export function demoGuide(g: DemoGuideInput): string {
  const weights = `models-cache/${REAL_WEIGHTS.replace('/', '__')}`;
  const bundle = `${g.dataDir}/bundles/clip-b16`;
  return [
    'DEMO running. Where to look:',
    `  page:  ${g.page ? `http://${g.page.host}:${g.page.port}/` : 'disabled (http.enabled: false)'}`,
    `  MQTT:  mosquitto_sub -h ${g.broker.host} -p ${g.broker.port} -t '${g.topicRoot}/#' -v`,
    '  real weights instead of the random demo model:',
    `    linewatch model pull ${REAL_WEIGHTS}`,
    `    linewatch model build --weights ${weights} --out ${bundle}`,
    `  then set model.bundle: ${bundle} and start again (linewatch doctor --config FILE checks the set-up)`,
  ].join('\n');
}
