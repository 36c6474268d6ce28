// The live page of a running agent, read in Chromium as a shift lead uses it: `linewatch run` with
// the tiny fixture CLIP, mosquitto and two `dir:` cameras over the demo frames, and a prompt store
// seeded with sets of known metrics. Everything is done through the page's own controls (threshold
// and sensitivity, rollback, re-tune), which send the dispatcher's commands; what the page shows is
// checked against /api/state. With LINEWATCH_SCREENSHOTS=<folder> the page is saved there at
// desktop and phone size.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { AgentState, CameraView } from '../../../agent/http/agent-view.ts';
import { loadBundle } from '../../../models/bundle/load.ts';
import type { Manifest } from '../../../models/bundle/manifest.ts';
import { bundleIdentity } from '../../../tuning/bundle-identity.ts';
import type { PromptSet } from '../../../tuning/prompt-set.ts';
import { PromptStore } from '../../../tuning/prompt-store.ts';
import { createRng } from '../../../tuning/rng.ts';
import { DEMO_FRAMES, startAgentProcess } from '../../support/agent-process.ts';
import { stateUntil } from '../../support/agent-state.ts';
import { chromiumMissing, launchChromium } from '../../support/chromium.ts';
import { findExecutable, freePort, sleep, startMosquitto, tempDir } from '../../support/mqtt-harness.ts';
import { buildTinyBundle } from '../../support/tiny-bundle.ts';

const HANG_GUARD = { timeout: 300_000 }; // not a speed assertion: a hung agent must not hang CI
const SCREENSHOTS = process.env.LINEWATCH_SCREENSHOTS;
const mosquitto = findExecutable('mosquitto');
const skip = !mosquitto ? 'mosquitto is not installed' : chromiumMissing;

const OLDER = 'set-older';
const REJECTED = 'set-rejected';
const NEWER = 'set-newer';
const REJECTION = 'normal false-positive rate 0.0200 exceeds the target 0.005';

/**
 * Three sets for this bundle: an older accepted one, a rejected one, a newer accepted one made
 * current. Their calibration (raw 0..1 -> 0..0.25) keeps every frame normal at the set's threshold
 * and clearly normal enough (at most half of it) for the re-tune reservoir.
 */
async function seedPromptStore(store: PromptStore, bundle: PromptSet['bundle'], manifest: Manifest): Promise<void> {
  const rng = createRng(11);
  const rows = (n: number, width: number) => Array.from({ length: n }, () => Array.from({ length: width }, () => rng.normal()));
  const set = (id: string, created: string, metrics: Record<string, number>, rejected?: string): PromptSet => ({
    id,
    created,
    status: rejected ? 'rejected' : 'accepted',
    reasons: rejected ? [rejected] : [],
    bundle,
    tokens: { shared: rows(1, manifest.text.width), normal: rows(1, manifest.text.width), anomalous: rows(1, manifest.text.width) },
    text_embeds: rows(2, manifest.embedDim),
    calibration: { min: 0, max: 4, threshold: 0.5, targetFpr: 0.005 },
    metrics,
    config: {},
    data: {},
  });
  await store.write(set(OLDER, '2026-01-01T06:00:00.000Z', { synthetic_auroc: 0.81, normal_fpr: 0.004 }));
  await store.write(set(REJECTED, '2026-01-15T06:00:00.000Z', { synthetic_auroc: 0.9, normal_fpr: 0.02 }, REJECTION));
  const committed = await store.commit(
    set(NEWER, '2026-02-01T06:00:00.000Z', { synthetic_auroc: 0.93, normal_fpr: 0, current_synthetic_auroc: 0.81, current_normal_fpr: 0.004 }),
  );
  assert.ok(committed.ok && committed.value.current);
}

const cameraOf = (s: AgentState, name: string) => s.cameras.find((c) => c.name === name) as CameraView;

/** Waits until the image `selector` names has loaded: complete with a width (a broken image has none). */
function imageLoaded(page: Page, selector: string): Promise<unknown> {
  return page.waitForFunction((sel) => {
    // Runs in the page; typed by hand because this project compiles without the DOM library.
    const doc = (globalThis as unknown as { document: { querySelector(s: string): { complete: boolean; naturalWidth: number } | null } }).document;
    const img = doc.querySelector(sel);
    return Boolean(img?.complete && img.naturalWidth > 0);
  }, selector);
}

async function screenshot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  await fs.mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage: true });
}

/** Types `value` into a camera's setting and presses its Apply button. */
async function applySetting(page: Page, camera: string, field: 'threshold' | 'sensitivity', value: string): Promise<void> {
  const card = page.locator(`.camera[data-camera="${camera}"]`);
  await card.locator(`.${field}-input`).fill(value);
  await card.locator(`.apply-${field}`).click();
}

describe('the live page of a running agent', { skip }, () => {
  test('events with thumbnails, threshold line and controls, prompt sets with rollback, re-tune phase; one column on a phone', HANG_GUARD, async (t) => {
    const dir = await tempDir();
    const bundleDir = await buildTinyBundle(path.join(dir, 'bundle'));
    const bundle = await loadBundle(bundleDir);
    assert.ok(bundle.ok, bundle.ok ? '' : bundle.error);
    await seedPromptStore(new PromptStore(path.join(dir, 'var/prompts')), await bundleIdentity(bundle.value), bundle.value.manifest);
    const broker = await startMosquitto(mosquitto!);
    t.after(() => broker.stop());
    const port = await freePort();
    const config = path.join(dir, 'agent.yaml');
    await fs.writeFile(
      config,
      `device_id: line4
data_dir: ${path.join(dir, 'var')}
model: { bundle: ${bundleDir}, execution_providers: [cpu] }
mqtt: { url: "${broker.url}", topic_prefix: lw }
cameras:
  front: { source: "${DEMO_FRAMES}", fps: 4 }
  back: { source: "${DEMO_FRAMES}", fps: 2 }
detector: { event_open_frames: 1, event_close_frames: 1, event_update_interval_s: 1 }
retune: { cron: null, min_normals: 12, max_normals: 16, steps: 10, min_interval_s: 0, sample_interval_s: 0.2 }
http: { port: ${port} }
`,
    );
    const agent = startAgentProcess(config);
    t.after(() => agent.child.kill('SIGKILL'));
    for (let ready = false; !ready; await sleep(200)) {
      if (agent.child.exitCode !== null) assert.fail(`the agent exited: ${agent.output()}`);
      const state = (await fetch(`http://127.0.0.1:${port}/api/state`)
        .then((r) => r.json())
        .catch(() => null)) as AgentState | null;
      ready = state?.cameras.length === 2 && state.cameras.every((c) => c.frame_id !== null);
    }
    const base = `http://127.0.0.1:${port}`;
    const browser = await launchChromium();
    t.after(() => browser.close());
    const desktop = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const foreign: string[] = [];
    desktop.on('request', (r) => {
      if (!r.url().startsWith(base)) foreign.push(r.url());
    });
    await desktop.goto(`${base}/`);
    const front = desktop.locator('.camera[data-camera="front"]');
    await front.locator('canvas.frame[data-frame-id]').waitFor();

    // the prompt-set history, newest first, with the current marker and the gate metrics
    const sets = desktop.locator('li.prompt-set');
    await sets.nth(2).waitFor();
    assert.deepEqual(await sets.evaluateAll((lis) => lis.map((li) => (li as unknown as { dataset: { id: string } }).dataset.id)), [NEWER, REJECTED, OLDER]);
    assert.equal(await desktop.locator('li.prompt-set[data-current="true"]').getAttribute('data-id'), NEWER);
    assert.equal(await desktop.locator(`li.prompt-set[data-id="${NEWER}"] .current-marker`).textContent(), 'current');
    assert.equal(await desktop.locator(`li.prompt-set[data-id="${OLDER}"] .set-gate`).textContent(), 'synthetic AUROC 0.810 · normal FPR 0.004');
    assert.equal(await desktop.locator(`li.prompt-set[data-id="${REJECTED}"] .set-status`).textContent(), 'rejected');
    assert.equal(await desktop.locator(`li.prompt-set[data-id="${REJECTED}"] .set-reasons`).textContent(), REJECTION);
    assert.equal(await desktop.locator('#active-set').textContent(), NEWER);

    // a threshold out of range: the dispatcher refuses, the page says why, nothing changes
    await applySetting(desktop, 'front', 'threshold', '2');
    const setReply = front.locator('.set-reply[data-ok="false"]');
    await setReply.waitFor();
    assert.match((await setReply.textContent()) ?? '', /^threshold refused: .*"threshold" must be a number from 0 to 1/);
    assert.equal(cameraOf(await stateUntil(port, () => true, 'a state'), 'front').overrides.threshold, null);

    // threshold 0 through the page: in /api/state, on the threshold line, and every frame is anomalous -> an event
    await applySetting(desktop, 'front', 'threshold', '0');
    await front.locator('.set-reply', { hasText: 'threshold set to 0.000' }).waitFor();
    await stateUntil(port, (s) => cameraOf(s, 'front').overrides.threshold === 0 && cameraOf(s, 'front').threshold === 0, 'threshold 0 in force');
    await desktop.waitForFunction(() => {
      const doc = (globalThis as unknown as { document: { querySelector(s: string): { getAttribute(a: string): string | null } | null } }).document;
      return doc.querySelector('.camera[data-camera="front"] svg.history line.threshold-line')?.getAttribute('y1') === '80';
    });
    const openRow = front.locator('li.event[data-open="true"]');
    await openRow.waitFor();
    const eventId = (await openRow.getAttribute('data-event-id')) ?? '';
    await imageLoaded(desktop, `.camera[data-camera="front"] li.event[data-event-id="${eventId}"] img.thumb`);
    assert.ok((await openRow.locator('img.thumb').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)) > 0);
    assert.equal(await openRow.locator('.event-state').textContent(), 'OPEN');
    assert.equal(await front.locator('.verdict-badge').textContent(), 'ANOMALY');
    assert.match((await front.locator('.threshold-in-force').textContent()) ?? '', /^in force: 0\.000, set by command/);
    await screenshot(desktop, 'desktop-event-open.png');

    // threshold 1: the event closes, and its row says so with its duration and max score
    await applySetting(desktop, 'front', 'threshold', '1');
    const closed = await stateUntil(port, (s) => cameraOf(s, 'front').events.find((e) => e.id === eventId)?.open === false, 'the event closed');
    const ended = cameraOf(closed, 'front').events.find((e) => e.id === eventId)!;
    const closedRow = front.locator(`li.event[data-event-id="${eventId}"][data-open="false"]`);
    await closedRow.waitFor();
    assert.equal(await closedRow.locator('.event-state').textContent(), 'closed');
    assert.equal(await closedRow.locator('.event-max').textContent(), `max ${ended.max_score.toFixed(3)}`);
    assert.match((await closedRow.locator('.event-duration').textContent()) ?? '', /^\d+(\.\d)? s$|min/);
    await desktop.locator('.camera[data-camera="front"][data-verdict="ok"]').waitFor();

    // sensitivity through the page, on the other camera only
    await applySetting(desktop, 'back', 'sensitivity', '0.7');
    await stateUntil(
      port,
      (s) => cameraOf(s, 'back').overrides.sensitivity === 0.7 && cameraOf(s, 'front').overrides.sensitivity === 0.5,
      'sensitivity 0.7 on back',
    );

    // rollback after a confirmation: the older set scores, the page moves its marker
    desktop.once('dialog', (d) => void d.accept());
    await desktop.locator('#rollback').click();
    await desktop.locator('#rollback-reply', { hasText: `rolled back: now scoring with ${OLDER}` }).waitFor();
    await stateUntil(port, (s) => s.cameras.every((c) => c.prompt_set === OLDER), 'results from the older set');
    await desktop.locator(`li.prompt-set[data-id="${OLDER}"][data-current="true"]`).waitFor();
    assert.equal(await desktop.locator(`li.prompt-set[data-id="${NEWER}"]`).getAttribute('data-status'), 'rejected');
    // nothing older is left: the dispatcher's error is shown
    desktop.once('dialog', (d) => void d.accept());
    await desktop.locator('#rollback').click();
    await desktop.locator('#rollback-reply[data-ok="false"]').waitFor();
    assert.match((await desktop.locator('#rollback-reply').textContent()) ?? '', new RegExp(`^rollback refused: no accepted prompt set older than ${OLDER}`));

    // a re-tune from the page: every phase text the page shows is recorded as it changes
    await desktop.evaluate(() => {
      const w = globalThis as unknown as {
        phases: string[];
        document: { getElementById(id: string): { textContent: string } };
        MutationObserver: new (cb: () => void) => { observe(n: unknown, o: object): void };
      };
      const node = w.document.getElementById('retune-phase');
      w.phases = [node.textContent];
      new w.MutationObserver(() => w.phases.push(node.textContent)).observe(node, { childList: true, characterData: true, subtree: true });
    });
    await desktop.locator('#retune-all').click();
    await desktop.locator('#retune-reply', { hasText: 're-tune requested' }).waitFor();
    await desktop.locator('#retune-phase', { hasText: /^(done|rejected|failed)/ }).waitFor({ timeout: 180_000 });
    const phases = await desktop.evaluate(() => (globalThis as unknown as { phases: string[] }).phases);
    const finished = (await stateUntil(port, () => true, 'a state')).retune;
    assert.notEqual(finished.state, 'failed', finished.message);
    assert.equal(await desktop.locator('#retune-message').textContent(), finished.message);
    assert.ok(
      phases.some((p) => /^(collecting|tuning|validating) \d+ % \(by command\)$/.test(p)),
      `a running phase was shown: ${JSON.stringify(phases)}`,
    );
    assert.equal(await desktop.locator('#retune-phase').textContent(), `${finished.state}: prompt set ${finished.prompt_set} (by command)`);
    await desktop.locator(`li.prompt-set[data-id="${finished.prompt_set}"][data-status="${finished.state === 'done' ? 'accepted' : 'rejected'}"]`).waitFor();
    await screenshot(desktop, 'desktop-after-retune.png');
    assert.deepEqual(foreign, [], 'the page loads nothing from outside the agent');

    // a phone: one column, nothing wider than the screen, the controls within reach
    const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })).newPage();
    await phone.goto(`${base}/`);
    await phone.locator('.camera[data-camera="back"] canvas.frame[data-frame-id]').waitFor();
    await phone.locator('li.prompt-set').first().waitFor();
    const widths = await phone.evaluate(() => {
      const w = globalThis as unknown as { innerWidth: number; document: { documentElement: { scrollWidth: number } } };
      return { scroll: w.document.documentElement.scrollWidth, inner: w.innerWidth };
    });
    assert.ok(widths.scroll <= widths.inner, `no horizontal scroll: ${JSON.stringify(widths)}`);
    const boxes = await Promise.all(['.camera[data-camera="front"]', '.camera[data-camera="back"]'].map((s) => phone.locator(s).boundingBox()));
    assert.equal(boxes[0]?.x, boxes[1]?.x, 'the cameras stack in one column');
    const apply = phone.locator('.camera[data-camera="back"] .apply-threshold');
    const box = await apply.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= widths.inner && box.height >= 40, `Apply fits and is tall enough to tap: ${JSON.stringify(box)}`);
    await phone.locator('.camera[data-camera="back"] .threshold-input').fill('0.45');
    await apply.tap();
    await stateUntil(port, (s) => cameraOf(s, 'back').overrides.threshold === 0.45, 'threshold 0.45 on back from the phone');
    await screenshot(phone, 'phone.png');

    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0, agent.output());
  });
});
