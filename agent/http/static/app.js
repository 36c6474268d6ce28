// The live page: polls /api/state, draws each camera's latest frame with the anomaly mask over it,
// its score history and prompt set. Everything it loads comes from the agent: it works offline.

const POLL_MS = 1000;
const OVERLAY_ALPHA = 0.6;
const cards = new Map();

const api = (camera, what, frameId) => `/api/cameras/${encodeURIComponent(camera)}/${what}?f=${frameId}`;
const fmt = (v) => (typeof v === 'number' ? v.toFixed(3) : '–');
/** Each scorer's raw score, e.g. "prompt 0.612 · memory 0.081". */
const scorerScores = (scores) =>
  scores
    ? Object.entries(scores)
        .map(([name, v]) => `${name} ${fmt(v)}`)
        .join(' · ')
    : '–';

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

function drawHistory(card, cam) {
  const svg = card.querySelector('svg.history');
  const n = cam.history.length;
  const points = cam.history.map((p, i) => `${n > 1 ? (i / (n - 1)) * 300 : 0},${80 - p.score * 80}`);
  svg.querySelector('polyline').setAttribute('points', points.join(' '));
  const line = svg.querySelector('line');
  const y = cam.threshold === null ? -10 : 80 - cam.threshold * 80;
  line.setAttribute('y1', y);
  line.setAttribute('y2', y);
}

async function sendRetune(card, camera) {
  const button = card.querySelector('button.retune');
  const reply = card.querySelector('.cmd-reply');
  button.disabled = true;
  reply.textContent = 're-tune: sending…';
  try {
    const res = await fetch('/api/cmd/retune', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ camera }),
    });
    const body = await res.json();
    reply.textContent = body.ok ? 're-tune requested' : `re-tune refused: ${body.error}`;
  } catch (e) {
    reply.textContent = `re-tune failed: ${e}`;
  } finally {
    button.disabled = false;
  }
}

function cardFor(name) {
  let card = cards.get(name);
  if (card) return card;
  card = document.getElementById('camera-card').content.firstElementChild.cloneNode(true);
  card.dataset.camera = name;
  card.querySelector('.camera-name').textContent = name;
  card.querySelector('button.retune').addEventListener('click', () => sendRetune(card, name));
  document.getElementById('cameras').append(card);
  cards.set(name, card);
  return card;
}

function render(state) {
  document.getElementById('demo-banner').hidden = !state.demo;
  document.getElementById('engine-banner').hidden = !state.engine;
  document.getElementById('engine-banner').textContent = state.engine ?? '';
  document.getElementById('device-id').textContent = state.device_id;
  document.getElementById('bundle').textContent = state.bundle;
  document.getElementById('mqtt-state').textContent = state.mqtt_connected ? 'MQTT connected' : 'MQTT disconnected';
  const r = state.retune;
  document.getElementById('retune-state').textContent = `${r.state}${r.state === 'idle' ? '' : ` ${Math.round(r.progress * 100)} %`}`;
  const seen = new Set();
  for (const cam of state.cameras) {
    seen.add(cam.name);
    const card = cardFor(cam.name);
    const status = card.querySelector('.camera-status');
    status.dataset.state = cam.status;
    status.textContent = cam.status_reason ? `${cam.status}: ${cam.status_reason}` : cam.status;
    card.dataset.anomalous = String(cam.anomalous);
    card.querySelector('.score').textContent = fmt(cam.score);
    card.querySelector('.threshold').textContent = fmt(cam.threshold);
    card.querySelector('.scorer-scores').textContent = scorerScores(cam.scores);
    card.querySelector('.prompt-set').textContent = cam.prompt_set ?? '–';
    drawHistory(card, cam);
    if (cam.frame_id !== null && card.dataset.frameId !== String(cam.frame_id)) {
      card.dataset.frameId = String(cam.frame_id);
      drawFrame(card, cam);
    }
  }
  for (const [name, card] of cards) {
    if (!seen.has(name)) {
      card.remove();
      cards.delete(name);
    }
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

poll();
