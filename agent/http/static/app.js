// The live page a shift lead keeps open: polls /api/state and draws each camera's latest frame with
// the anomaly mask over it, its score against the threshold, its last events and the detection
// settings in force; lists the prompt sets (/api/prompt-sets) and follows a re-tune. Every button
// sends a command to /api/cmd/<name>, the dispatcher MQTT commands go through, and shows its reply,
// errors included. Texts from the agent go in with textContent only, never as HTML. Everything the
// page loads comes from the agent: it works offline.

const POLL_MS = 1000;
const PROMPT_SETS_MS = 15000;
const OVERLAY_ALPHA = 0.6;
const RUNNING_PHASES = ['collecting', 'tuning', 'validating'];
const cards = new Map();
let promptSetsKey = '';
let promptSetsText = '';
let promptSetsTimer = null;

const api = (camera, what, frameId) => `/api/cameras/${encodeURIComponent(camera)}/${what}?f=${frameId}`;
const thumbnailUrl = (camera, eventId, ts) => `/api/events/${encodeURIComponent(camera)}/${encodeURIComponent(eventId)}.jpg?t=${ts}`;
const fmt = (v) => (typeof v === 'number' ? v.toFixed(3) : '–');
const percent = (progress) => `${Math.round(progress * 100)} %`;
/** Each scorer's raw score, e.g. "prompt 0.612 · memory 0.081". */
const scorerScores = (scores) =>
  scores
    ? Object.entries(scores)
        .map(([name, v]) => `${name} ${fmt(v)}`)
        .join(' · ')
    : '–';

/** An element with a class and a text (textContent: a string from the agent is never parsed as HTML). */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The time of day, with the date when it is not today. */
function clock(ts) {
  const d = new Date(ts);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}

function duration(ms) {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor(s / 60) % 60} min`;
}

function showReply(node, ok, text) {
  node.dataset.ok = String(ok);
  node.textContent = text;
}

/** A command through the agent's dispatcher: its reply, or an error reply when the agent cannot be reached. */
async function sendCommand(name, args) {
  try {
    const res = await fetch(`/api/cmd/${name}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(args) });
    return await res.json();
  } catch (e) {
    return { ok: false, error: `the agent did not answer (${e.message ?? e})` };
  }
}

function loadImage(url) {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => resolve(null); // no mask yet is normal
    img.src = url;
  });
}

/** Grey mask -> red with alpha proportional to the anomaly value, stretched over the whole frame. */
function drawOverlay(ctx, mask) {
  const off = document.createElement('canvas');
  off.width = mask.naturalWidth;
  off.height = mask.naturalHeight;
  const o = off.getContext('2d');
  o.drawImage(mask, 0, 0);
  const px = o.getImageData(0, 0, off.width, off.height);
  for (let i = 0; i < px.data.length; i += 4) {
    const v = px.data[i];
    px.data[i] = 255;
    px.data[i + 1] = 0;
    px.data[i + 2] = 0;
    px.data[i + 3] = Math.round(v * OVERLAY_ALPHA);
  }
  o.putImageData(px, 0, 0);
  ctx.drawImage(off, 0, 0, ctx.canvas.width, ctx.canvas.height);
}

async function drawFrame(card, cam) {
  const [frame, mask] = await Promise.all([loadImage(api(cam.name, 'frame', cam.frame_id)), loadImage(api(cam.name, 'mask', cam.frame_id))]);
  if (!frame) return;
  const canvas = card.querySelector('canvas.frame');
  canvas.width = frame.naturalWidth;
  canvas.height = frame.naturalHeight;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(frame, 0, 0);
  if (mask) drawOverlay(ctx, mask);
  canvas.dataset.frameId = String(cam.frame_id);
}

/** The score line and, across it, the threshold in force as a dashed red line (hidden above the box when unknown). */
function drawHistory(card, cam) {
  const svg = card.querySelector('svg.history');
  const n = cam.history.length;
  const points = cam.history.map((p, i) => `${n > 1 ? (i / (n - 1)) * 300 : 0},${80 - p.score * 80}`);
  svg.querySelector('polyline').setAttribute('points', points.join(' '));
  const line = svg.querySelector('line.threshold-line');
  const y = cam.threshold === null ? -10 : 80 - cam.threshold * 80;
  line.setAttribute('y1', y);
  line.setAttribute('y2', y);
}

/** What the big badge says: ok (green), anomaly (red), or why there is no verdict (grey). */
function verdictOf(cam) {
  if (cam.status !== 'online') return ['none', cam.status === 'disabled' ? 'DISABLED' : 'OFFLINE'];
  if (cam.score === null) return ['none', 'NO DATA'];
  return cam.anomalous ? ['anomaly', 'ANOMALY'] : ['ok', 'OK'];
}

/** An input shows the value in force unless the user is editing it. */
function fillInput(input, value) {
  if (input.dataset.dirty === 'true' || document.activeElement === input) return;
  input.value = value === null ? '' : String(value);
}

function renderControls(card, cam) {
  const { sensitivity, threshold } = cam.overrides;
  fillInput(card.querySelector('.sensitivity-input'), sensitivity);
  fillInput(card.querySelector('.threshold-input'), threshold);
  card.querySelector('.threshold-input').placeholder = "set's";
  card.querySelector('.sensitivity-in-force').textContent = `in force: ${sensitivity.toFixed(2)} (0.50 = as calibrated)`;
  card.querySelector('.threshold-in-force').textContent =
    threshold === null
      ? `in force: the prompt set's; decides at ${fmt(cam.threshold)}`
      : `in force: ${fmt(threshold)}, set by command; decides at ${fmt(cam.threshold)}`;
}

/** `set {camera, <field>: value}` from the field's input; the dispatcher's answer (a value out of range, ...) is shown as it is. */
async function applySetting(card, camera, field) {
  const input = card.querySelector(`.${field}-input`);
  const button = card.querySelector(`.apply-${field}`);
  const reply = card.querySelector('.set-reply');
  button.disabled = true;
  showReply(reply, true, `${field}: sending…`);
  const value = input.value.trim() === '' ? null : Number(input.value);
  const body = await sendCommand('set', { camera, [field]: value });
  button.disabled = false;
  if (!body.ok) return showReply(reply, false, `${field} refused: ${body.error}`);
  delete input.dataset.dirty;
  showReply(reply, true, `${field} set to ${fmt(value)}`);
}

function setupControl(card, camera, field) {
  const input = card.querySelector(`.${field}-input`);
  input.addEventListener('input', () => {
    input.dataset.dirty = 'true';
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') applySetting(card, camera, field);
  });
  card.querySelector(`.apply-${field}`).addEventListener('click', () => applySetting(card, camera, field));
}

function eventRow() {
  const row = el('li', 'event');
  const img = el('img', 'thumb');
  img.alt = '';
  const text = el('div', 'event-text');
  text.append(el('span', 'event-state'), el('span', 'event-start'), el('span', 'event-duration'), el('span', 'event-max'));
  row.append(img, text);
  return row;
}

/** One row per event, newest first, kept across polls so that a thumbnail loads once per peak. */
function renderEvents(card, cam) {
  const list = card.querySelector('ol.events');
  const rows = new Map([...list.children].map((row) => [row.dataset.eventId, row]));
  const shown = new Set();
  for (const ev of cam.events) {
    const row = rows.get(ev.id) ?? eventRow();
    row.dataset.eventId = ev.id;
    row.dataset.open = String(ev.open);
    row.querySelector('.event-state').textContent = ev.open ? 'OPEN' : 'closed';
    row.querySelector('.event-start').textContent = clock(ev.start_ts);
    row.querySelector('.event-duration').textContent = duration(ev.duration_ms);
    row.querySelector('.event-max').textContent = `max ${fmt(ev.max_score)}`;
    if (ev.thumbnail_ts !== null) {
      const img = row.querySelector('img.thumb');
      const src = thumbnailUrl(cam.name, ev.id, ev.thumbnail_ts);
      if (img.dataset.src !== src) {
        img.dataset.src = src;
        img.alt = 'the frame at the peak';
        img.src = src;
      }
    }
    list.append(row);
    shown.add(ev.id);
  }
  for (const [id, row] of rows) if (!shown.has(id)) row.remove();
  card.querySelector('.no-events').hidden = cam.events.length > 0;
}

async function sendRetune(button, reply, args) {
  button.disabled = true;
  showReply(reply, true, 're-tune: sending…');
  const body = await sendCommand('retune', args);
  button.disabled = false;
  showReply(reply, body.ok, body.ok ? 're-tune requested' : `re-tune refused: ${body.error}`);
}

function cardFor(name) {
  let card = cards.get(name);
  if (card) return card;
  card = document.getElementById('camera-card').content.firstElementChild.cloneNode(true);
  card.dataset.camera = name;
  card.querySelector('.camera-name').textContent = name;
  const retune = card.querySelector('button.retune');
  retune.addEventListener('click', () => sendRetune(retune, card.querySelector('.cmd-reply'), { camera: name }));
  setupControl(card, name, 'sensitivity');
  setupControl(card, name, 'threshold');
  document.getElementById('cameras').append(card);
  cards.set(name, card);
  return card;
}

function renderCamera(cam) {
  const card = cardFor(cam.name);
  const status = card.querySelector('.camera-status');
  status.dataset.state = cam.status;
  status.textContent = cam.status_reason ? `${cam.status}: ${cam.status_reason}` : cam.status;
  const [verdict, label] = verdictOf(cam);
  card.dataset.verdict = verdict;
  card.dataset.anomalous = String(cam.anomalous);
  card.querySelector('.verdict-badge').textContent = label;
  card.querySelector('.score').textContent = fmt(cam.score);
  card.querySelector('.threshold').textContent = fmt(cam.threshold);
  card.querySelector('.scorer-scores').textContent = scorerScores(cam.scores);
  card.querySelector('.prompt-set').textContent = cam.prompt_set ?? '–';
  drawHistory(card, cam);
  renderControls(card, cam);
  renderEvents(card, cam);
  if (cam.frame_id !== null && card.dataset.frameId !== String(cam.frame_id)) {
    card.dataset.frameId = String(cam.frame_id);
    drawFrame(card, cam);
  }
}

/** The re-tune's phase (collecting -> tuning -> validating -> outcome) and its progress. */
function renderRetune(r) {
  const running = RUNNING_PHASES.includes(r.state);
  document.getElementById('retune-state').textContent = running ? `${r.state} ${percent(r.progress)}` : r.state;
  document.getElementById('retune-panel').dataset.state = r.state;
  const now = RUNNING_PHASES.indexOf(r.state);
  for (const li of document.querySelectorAll('#retune-phases li')) {
    const phase = li.dataset.phase;
    if (phase === 'outcome') {
      const ended = !running && r.state !== 'idle';
      li.textContent = ended ? r.state : 'outcome';
      li.dataset.state = !ended ? '' : r.state === 'done' ? 'past' : 'bad';
    } else {
      const i = RUNNING_PHASES.indexOf(phase);
      li.dataset.state = !running ? '' : i < now ? 'past' : i === now ? 'now' : '';
    }
  }
  const bar = document.getElementById('retune-progress');
  bar.setAttribute('aria-valuenow', String(Math.round(r.progress * 100)));
  bar.firstElementChild.style.width = `${r.state === 'idle' ? 0 : Math.round(r.progress * 100)}%`;
  const what = [r.camera ? `camera ${r.camera}` : null, r.trigger ? `by ${r.trigger}` : null].filter(Boolean).join(', ');
  let phase = 'idle: no re-tune running';
  if (running) phase = `${r.state}${r.phase ? ` (${r.phase})` : ''} ${percent(r.progress)}`;
  else if (r.state !== 'idle') phase = r.prompt_set ? `${r.state}: prompt set ${r.prompt_set}` : r.state;
  document.getElementById('retune-phase').textContent = what ? `${phase} (${what})` : phase;
  document.getElementById('retune-message').textContent = r.message ?? '';
}

/** "synthetic AUROC 0.930 · normal FPR 0.000", with the set it was gated against when measured. */
function gateText(m) {
  if (m.synthetic_auroc === undefined && m.normal_fpr === undefined) return '';
  const own = `synthetic AUROC ${fmt(m.synthetic_auroc)} · normal FPR ${fmt(m.normal_fpr)}`;
  return m.current_synthetic_auroc === undefined ? own : `${own} (gated against ${fmt(m.current_synthetic_auroc)} · ${fmt(m.current_normal_fpr)})`;
}

function promptSetRow(s) {
  const li = el('li', 'prompt-set');
  li.dataset.id = s.id;
  li.dataset.status = s.status;
  li.dataset.current = String(s.current);
  const head = el('div', 'set-head');
  head.append(el('span', 'set-id', s.id));
  if (s.current) head.append(el('span', 'badge current-marker', 'current'));
  const status = el('span', 'badge set-status', s.status);
  status.dataset.status = s.status;
  head.append(status);
  li.append(head);
  if (s.created) li.append(el('div', 'set-created', `created ${clock(Date.parse(s.created))}`));
  const gate = gateText(s.metrics);
  if (gate) li.append(el('div', 'set-gate', gate));
  for (const reason of s.reasons) li.append(el('div', 'set-reasons', reason));
  const names = Object.keys(s.metrics);
  if (names.length) {
    const details = el('details');
    const dl = el('dl');
    for (const name of names) dl.append(el('dt', '', name), el('dd', '', String(s.metrics[name])));
    details.append(el('summary', '', 'all metrics'), dl);
    li.append(details);
  }
  return li;
}

function renderPromptSets(history) {
  document.getElementById('active-set').textContent = history.active ?? '–';
  document.getElementById('prompt-set-list').replaceChildren(...history.sets.map(promptSetRow));
  const empty = document.getElementById('no-prompt-sets');
  empty.textContent = 'no tuned prompt set yet: the zero-shot meta prompts score until the first re-tune';
  empty.hidden = history.sets.length > 0;
}

async function loadPromptSets() {
  clearTimeout(promptSetsTimer);
  try {
    const res = await fetch('/api/prompt-sets', { cache: 'no-store' });
    const text = await res.text();
    if (!res.ok) {
      const empty = document.getElementById('no-prompt-sets');
      empty.textContent = `the prompt sets could not be read: ${JSON.parse(text).error}`;
      empty.hidden = false;
    } else if (text !== promptSetsText) {
      promptSetsText = text;
      renderPromptSets(JSON.parse(text));
    }
  } catch {
    // the state poll shows that the agent is out of reach
  }
  promptSetsTimer = setTimeout(loadPromptSets, PROMPT_SETS_MS);
}

async function rollback() {
  const active = document.getElementById('active-set').textContent;
  if (!window.confirm(`Roll back from prompt set ${active} to the previous accepted set? ${active} will be marked rejected.`)) return;
  const button = document.getElementById('rollback');
  const reply = document.getElementById('rollback-reply');
  button.disabled = true;
  showReply(reply, true, 'rollback: sending…');
  const body = await sendCommand('rollback', {});
  button.disabled = false;
  showReply(
    reply,
    body.ok,
    body.ok ? `rolled back${body.result?.prompt_set ? `: now scoring with ${body.result.prompt_set}` : ''}` : `rollback refused: ${body.error}`,
  );
  loadPromptSets();
}

function render(state) {
  document.getElementById('demo-banner').hidden = !state.demo;
  document.getElementById('engine-banner').hidden = !state.engine;
  document.getElementById('engine-banner').textContent = state.engine ?? '';
  document.getElementById('device-id').textContent = state.device_id;
  document.getElementById('bundle').textContent = state.bundle;
  const mqtt = document.getElementById('mqtt-state');
  mqtt.dataset.up = String(state.mqtt_connected);
  mqtt.textContent = state.mqtt_connected ? 'MQTT connected' : 'MQTT disconnected';
  renderRetune(state.retune);
  const seen = new Set();
  for (const cam of state.cameras) {
    seen.add(cam.name);
    renderCamera(cam);
  }
  for (const [name, card] of cards) {
    if (!seen.has(name)) {
      card.remove();
      cards.delete(name);
    }
  }
  // A re-tune that ended or a rollback by MQTT changes the store: read it again.
  const key = JSON.stringify([state.retune.state, state.retune.prompt_set, state.cameras.map((c) => c.prompt_set)]);
  if (key !== promptSetsKey) {
    promptSetsKey = key;
    loadPromptSets();
  }
}

async function poll() {
  try {
    const res = await fetch('/api/state', { cache: 'no-store' });
    render(await res.json());
    document.getElementById('link-lost').hidden = true;
  } catch {
    document.getElementById('link-lost').hidden = false;
  }
  setTimeout(poll, POLL_MS);
}

document.getElementById('rollback').addEventListener('click', rollback);
const retuneAll = document.getElementById('retune-all');
retuneAll.addEventListener('click', () => sendRetune(retuneAll, document.getElementById('retune-reply'), {}));
poll();
