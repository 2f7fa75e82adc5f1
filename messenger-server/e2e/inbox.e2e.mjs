// End-to-end test of the web inbox in headless Chromium (Debian's `chromium`, driven by
// playwright-core; no browser download).
//
// It starts `messenger serve --sandbox --port 0` (the built binary), plays the customers through
// the sandbox's control API, and drives the page as employees with different rights:
//   - anna (owner, every account): sign-in, the list with platforms and unread badges, a
//     conversation with an image, a customer message arriving live (no reload), a reply that
//     reaches the customer's emulated phone with its ticks, a voice note, an MP3 voice note to
//     WhatsApp shown as "sent as audio" before sending (and arriving as audio), a long text
//     shown as split, an opt-out shown live with sending refused; the phone-width layout;
//   - boris (agent, Telegram and WhatsApp): no MAX/VK/Avito conversation in his list, none
//     opened by URL, no customer-data menu (no manage right);
//   - vera (viewer, read on Telegram; created here through the API): no composer.
// Screenshots of every page go to target/e2e-screenshots/. Every wait is bounded; any failure
// exits non-zero with what was awaited.
//
//   node inbox.e2e.mjs      (env: MESSENGER_BIN, CHROMIUM_PATH, E2E_SCREENSHOTS)

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const BIN = process.env.MESSENGER_BIN || join(ROOT, 'target/debug/messenger');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SHOTS = resolve(process.env.E2E_SCREENSHOTS || join(ROOT, 'target/e2e-screenshots'));
const WAIT = 15_000; // the longest any one wait lasts
const TOTAL = 240_000; // the whole run
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const started = Date.now();
/** A customer's file (PDF-shaped bytes). */
const PRICE_LIST = Buffer.from('%PDF-1.4\n% price list\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
const nonce = Math.random().toString(36).slice(2, 8);
/** Every text a customer or an employee writes here: none may reach the browser's console. */
const CONTENT = [];
const said = (t) => { CONTENT.push(t); return t; };

let server = null;
let browser = null;
let workDir = null;
const pages = [];
const consoleLines = [];
const pageErrors = [];
let checks = 0;

// ---------------------------------------------------------------- reporting

function log(line) { process.stdout.write(`${line}\n`); }

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
  } catch (err) {
    err.message = `${name}: ${err.message}`;
    throw err;
  }
  checks += 1;
  log(`ok ${checks} - ${name} (${Date.now() - t0} ms)`);
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

/** Polls `probe` until it returns a truthy value, within `ms`. */
async function until(what, probe, ms = WAIT) {
  const deadline = Date.now() + ms;
  let last = null;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms / 1000} s waiting for: ${what}${last ? ` (last error: ${last.message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------- test media

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A real PNG of `w`×`h` pixels in one colour. */
function png(w, h, [r, g, b]) {
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => [r, g, b]).flat())]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** A real WAV: `seconds` of a 440 Hz tone, 8 kHz mono 16-bit (the browser can play it). */
function wav(seconds) {
  const rate = 8000;
  const n = Math.round(rate * seconds);
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i += 1) data.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + data.length, 4); h.write('WAVE', 8); h.write('fmt ', 12);
  h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22); h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28); h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34); h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** MP3-shaped bytes (an ID3 tag and MPEG frame headers): what a voice recorder app exports. */
function mp3() {
  const id3 = Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 0]);
  const frame = Buffer.alloc(417);
  frame.set([0xff, 0xfb, 0x90, 0x64]);
  return Buffer.concat([id3, ...Array.from({ length: 12 }, () => frame)]);
}

// ---------------------------------------------------------------- the server and the sandbox

function startServer() {
  workDir = mkdtempSync(join(tmpdir(), 'messenger-e2e-'));
  const child = spawn(BIN, ['serve', '--sandbox', '--port', '0', '--db', join(workDir, 'inbox.db')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  server = { child, out: [], err: [] };
  child.stderr.on('data', (d) => { server.err.push(String(d)); if (server.err.length > 200) server.err.shift(); });
  return new Promise((resolveStart, rejectStart) => {
    const timer = setTimeout(() => rejectStart(new Error(
      `messenger serve did not print its banner within 30 s; it printed:\n${server.out.join('\n')}`)), 30_000);
    child.on('error', (e) => { clearTimeout(timer); rejectStart(new Error(`cannot start ${BIN}: ${e.message}`)); });
    child.on('exit', (code, signal) => {
      server.exited = { code, signal };
      clearTimeout(timer);
      rejectStart(new Error(`messenger serve exited early (${code ?? signal}):\n${server.err.join('')}`));
    });
    let buffer = '';
    child.stdout.on('data', (d) => {
      buffer += String(d);
      let i;
      while ((i = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, i).trimEnd();
        buffer = buffer.slice(i + 1);
        server.out.push(line);
        if (line.trim() === 'Ctrl-C stops it.') {
          clearTimeout(timer);
          const text = server.out.join('\n');
          const url = /messenger server listening on (http:\/\/\S+)/.exec(text);
          const sandbox = /^\s*sandbox:\s+(http:\/\/\S+)/m.exec(text);
          if (!url || !sandbox) rejectStart(new Error(`no server or sandbox URL in the banner:\n${text}`));
          else resolveStart({ url: url[1], sandbox: sandbox[1] });
        }
      }
    });
  });
}

async function stopServer() {
  if (!server || server.exited) return;
  const { child } = server;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timeout = new Promise((r) => setTimeout(() => r('timeout'), 10_000));
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

async function http(method, url, { body, token } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) throw new Error(`${method} ${new URL(url).pathname} answered ${res.status}: ${text.slice(0, 300)}`);
  return data;
}

// ---------------------------------------------------------------- the browser

async function newPage(name, viewport = { width: 1280, height: 820 }) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  context.setDefaultTimeout(WAIT);
  const page = await context.newPage();
  page.on('console', (m) => consoleLines.push(`[${name}] ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageErrors.push(`[${name}] ${e.message}`));
  pages.push({ name, page });
  return page;
}

async function shot(page, file) {
  await page.screenshot({ path: join(SHOTS, file), fullPage: false });
}

async function signIn(page, base, login, password) {
  await page.goto(`${base}/`);
  await page.locator('#login').waitFor({ state: 'visible' });
  await page.fill('#login', login);
  await page.fill('#password', password);
  await page.click('#signin-button');
  await page.locator('#app').waitFor({ state: 'visible' });
  await page.locator('#live[data-state="on"]').waitFor();
}

const item = (page, conversation) => page.locator(`#conversations li[data-conversation="${conversation}"]`);
const message = (page, text) => page.locator('#messages li', { hasText: text });

// ---------------------------------------------------------------- the test

async function run() {
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  let base;
  let sandbox;
  await step('messenger serve --sandbox --port 0 starts and prints its URLs', async () => {
    ({ url: base, sandbox } = await startServer());
    check(/^http:\/\/127\.0\.0\.1:\d+$/.test(base), `a loopback URL: ${base}`);
  });
  const control = `${sandbox}/control`;

  // The customers of the sandbox, by platform.
  const who = {};
  const anna = { token: null };
  await step('the sandbox has a customer on each of the five platforms', async () => {
    for (const a of await http('GET', `${control}/accounts`)) {
      const customers = await http('GET', `${control}/accounts/${a.id}/customers`);
      if (customers.length) who[a.platform] = { account: a.id, customer: customers[0].id };
    }
    for (const p of ['telegram', 'whatsapp', 'max', 'vk', 'avito']) check(who[p], `a ${p} customer`);
    anna.token = (await http('POST', `${base}/api/auth/sign-in`, { body: { login: 'anna', password: 'sandbox-anna' } })).token;
  });
  const customerSends = (platform, body) => http('POST',
    `${control}/accounts/${who[platform].account}/customers/${who[platform].customer}/messages`, { body });
  const phone = (platform) => http('GET',
    `${control}/accounts/${who[platform].account}/customers/${who[platform].customer}/messages?direction=outbound`);

  const hello = said(`Hello from Maria ${nonce}`);
  const caption = said(`Our shop front ${nonce}`);
  const others = {};
  const conv = {};
  await step('customers write on every platform (text, an image, a file, a voice note) and the server takes it all in', async () => {
    await customerSends('whatsapp', { text: hello });
    await customerSends('whatsapp', {
      media: { kind: 'image', data_base64: png(48, 32, [214, 64, 52]).toString('base64'), mime_type: 'image/png', file_name: 'shop.png' },
      caption,
    });
    await customerSends('whatsapp', {
      media: { kind: 'file', data_base64: PRICE_LIST.toString('base64'), mime_type: 'application/pdf', file_name: 'prices.pdf' },
    });
    await customerSends('telegram', {
      media: { kind: 'voice', data_base64: wav(0.6).toString('base64'), mime_type: 'audio/wav', file_name: 'voice.wav' },
    });
    for (const p of ['max', 'vk', 'avito']) {
      others[p] = said(`Hello on ${p} ${nonce}`);
      await customerSends(p, { text: others[p] });
    }
    await until('five conversations with every message in the owner\u2019s list', async () => {
      const list = await http('GET', `${base}/api/conversations`, { token: anna.token });
      for (const c of list.conversations) conv[c.platform] = c;
      return list.conversations.length === 5 && conv.whatsapp.unread === 3 && conv.telegram.unread === 1
        && ['max', 'vk', 'avito'].every((p) => conv[p].unread === 1);
    }, 30_000);
  });

  await step('a viewer, vera, is added with read on Telegram only (through the API)', async () => {
    const vera = await http('POST', `${base}/api/employees`, {
      token: anna.token, body: { name: 'Vera', role: 'viewer', login: 'vera', password: 'sandbox-vera-1' },
    });
    await http('PUT', `${base}/api/employees/${vera.id}/grants/${conv.telegram.account}`, {
      token: anna.token, body: { read: true, reply: false, manage: false },
    });
  });

  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
  const page = await newPage('anna');

  await step('the sign-in page: refuses a wrong password, takes the right one', async () => {
    await page.goto(`${base}/`);
    await page.locator('#login').waitFor({ state: 'visible' });
    check(await page.locator('#app').isHidden(), 'nothing but the sign-in before signing in');
    await shot(page, '01-sign-in.png');
    await page.fill('#login', 'anna');
    await page.fill('#password', 'not-the-password');
    await page.click('#signin-button');
    await until('the refusal is shown', async () => /wrong/i.test(await page.textContent('#signin-error')));
    await page.fill('#password', 'sandbox-anna');
    await page.click('#signin-button');
    await page.locator('#app').waitFor({ state: 'visible' });
    await page.locator('#live[data-state="on"]').waitFor();
  });

  await step('the list: five conversations with platform, customer and unread badges', async () => {
    await until('five conversations listed', async () => (await page.locator('#conversations li').count()) === 5);
    for (const [p, label] of Object.entries({ telegram: 'Telegram', whatsapp: 'WhatsApp', max: 'MAX', vk: 'VK', avito: 'Avito' })) {
      const li = item(page, conv[p].id);
      check((await li.locator('.platform').textContent()) === label, `${p} is labelled ${label}`);
    }
    check((await item(page, conv.whatsapp.id).locator('.name').textContent()) === 'Maria', 'the customer\u2019s name');
    check((await item(page, conv.whatsapp.id).locator('.unread-count').textContent()) === '3', 'WhatsApp: 3 unread');
    check((await page.textContent('#unread-total')) === '7 unread', 'the unread total is 7');
    check(await page.locator('#conv-placeholder').isVisible(), 'no conversation open yet');
    await shot(page, '02-list.png');
  });

  await step('a conversation: the text and the image show, the file downloads (both fetched with the token), the unread badge clears', async () => {
    await item(page, conv.whatsapp.id).locator('a').click();
    await message(page, hello).waitFor();
    await message(page, caption).waitFor();
    await until('the image is loaded from a blob: URL', () => page.evaluate(() => {
      const img = document.querySelector('#messages li[data-kind="image"] img');
      return img && img.src.startsWith('blob:') && img.complete && img.naturalWidth === 48 && img.naturalHeight === 32;
    }));
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#messages li[data-kind="file"] button.download').click(),
    ]);
    check(download.suggestedFilename() === 'prices.pdf', `the file keeps its name: ${download.suggestedFilename()}`);
    const saved = join(workDir, 'downloaded.pdf');
    await download.saveAs(saved);
    check(readFileSync(saved).equals(PRICE_LIST), 'the downloaded file has the customer\u2019s bytes');
    await until('the unread badge clears', async () => (await item(page, conv.whatsapp.id).locator('.unread-count').count()) === 0);
    check(await page.locator('#composer').isVisible(), 'the owner may reply: composer shown');
    check(await page.locator('#manage').isVisible(), 'the owner may manage: customer-data menu shown');
    check(/#\/c\/\d+$/.test(page.url()), 'the conversation has its own URL');
  });

  const live = said(`Are you open on Sunday? ${nonce}`);
  await step('a customer message sent through the sandbox appears live, without a reload; the list\u2019s badges follow', async () => {
    await page.evaluate(() => { window.e2eSameDocument = true; });
    await customerSends('whatsapp', { text: live });
    await message(page, live).waitFor();
    await customerSends('max', { text: said(`And on MAX ${nonce}`) });
    await until('the MAX conversation\u2019s badge goes to 2', async () =>
      (await item(page, conv.max.id).locator('.unread-count').textContent()) === '2');
    check((await item(page, conv.whatsapp.id).locator('.unread-count').count()) === 0, 'the open conversation stays read');
    check(await page.evaluate(() => window.e2eSameDocument === true), 'the page was not reloaded');
  });

  const reply = said(`Yes, 10 to 18 ${nonce}`);
  await step('a reply typed in the page reaches the customer\u2019s emulated phone; its ticks advance to read', async () => {
    await page.fill('#text', reply);
    await page.locator('#send:not([disabled])').waitFor();
    await page.click('#send');
    await until('the reply is on the customer\u2019s phone', async () =>
      (await phone('whatsapp')).some((m) => m.kind === 'text' && (m.text || '').startsWith(reply)));
    const li = message(page, reply);
    await until('the reply shows as sent or delivered', async () =>
      ['sent', 'delivered', 'read'].includes(await li.getAttribute('data-status')));
    check((await page.inputValue('#text')) === '', 'the composer is cleared');
    await http('POST', `${control}/accounts/${who.whatsapp.account}/customers/${who.whatsapp.customer}/read`, { body: {} });
    await until('the reply shows as read (coloured double tick)', async () =>
      (await li.getAttribute('data-status')) === 'read' && (await li.locator('.tick.read .glyph').textContent()) === '\u2713\u2713'
      && (await li.locator('.tick.read').textContent()).endsWith('Read'));
  });

  await step('a downgrade is shown before sending: an MP3 voice note to WhatsApp goes as audio', async () => {
    await page.setInputFiles('#file', { name: 'note.mp3', mimeType: 'audio/mpeg', buffer: mp3() });
    check((await page.inputValue('#att-kind')) === 'voice', 'an audio file is offered as a voice note first');
    await until('the plan says it will be sent as audio', async () =>
      /This voice note will be sent as audio/.test(await page.textContent('#plan')));
    check(await page.locator('#send:not([disabled])').isVisible(), 'a downgrade does not stop the send');
    await shot(page, '03-conversation.png');
    const before = (await phone('whatsapp')).length;
    await page.click('#send');
    await until('the customer receives it as audio', async () => {
      const got = await phone('whatsapp');
      return got.length > before && got.some((m) => m.kind === 'audio' && m.media && m.media.mime_type === 'audio/mpeg');
    });
    await until('the page shows the voice note it sent, marked as sent as audio', async () =>
      /Sent as audio/.test(await page.locator('#messages li.out[data-kind="voice"] .sent-as').textContent()));
  });

  await step('a long text is shown as split before sending', async () => {
    await page.fill('#text', said(`${'All our opening hours and prices, in detail. '.repeat(100)}${nonce}`));
    await until('the plan says the text will be split', async () =>
      /split into 2 messages/.test(await page.textContent('#plan')));
    await page.fill('#text', '');
    await until('the plan note goes with the text', async () => (await page.textContent('#plan')) === '');
    check(await page.locator('#send[disabled]').isVisible(), 'nothing to send: the button is disabled');
  });

  await step('a voice note is playable (fetched with the token as a blob)', async () => {
    await item(page, conv.telegram.id).locator('a').click();
    await until('the voice note\u2019s audio has loaded its metadata', () => page.evaluate(() => {
      const a = document.querySelector('#messages li[data-kind="voice"] audio');
      return a && a.src.startsWith('blob:') && a.readyState >= 1 && a.duration > 0.5 && a.duration < 0.7;
    }));
    check((await page.textContent('#messages li[data-kind="voice"] .kind')).startsWith('Voice note'), 'labelled as a voice note');
    await shot(page, '04-voice-note.png');
  });

  await step('a send that may have gone out is shown as maybe sent, with Send again and Dismiss; Dismiss withdraws it', async () => {
    await http('POST', `${control}/accounts/${who.telegram.account}/faults`, {
      body: { fault: { kind: 'drop_connection' }, count: 1, operation: 'sendMessage' },
    });
    const text = said(`We will call you back ${nonce}`);
    await page.fill('#text', text);
    await page.locator('#send:not([disabled])').waitFor();
    await page.click('#send');
    const li = message(page, text);
    await until('the message shows as maybe sent', async () => (await li.getAttribute('data-outbox')) === 'maybe_sent');
    check(await li.locator('button.resend').isVisible(), 'Send again is offered');
    await shot(page, '05-maybe-sent.png');
    await li.locator('button.dismiss').click();
    await until('the message shows as dismissed', async () => (await li.getAttribute('data-outbox')) === 'cancelled');
    check((await li.locator('button').count()) === 0, 'nothing more to decide');
  });

  await step('phone width: one pane at a time, the conversation then the list', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await until('only the conversation is shown', async () =>
      (await page.locator('#conv-pane').isVisible()) && !(await page.locator('#list-pane').isVisible()));
    check(await page.locator('#back').isVisible(), 'a way back to the list');
    const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    check(fits, 'nothing wider than the screen');
    await shot(page, '06-phone-conversation.png');
    await page.click('#back');
    await until('only the list is shown', async () =>
      (await page.locator('#list-pane').isVisible()) && !(await page.locator('#conv-pane').isVisible()));
    await shot(page, '07-phone-list.png');
    await page.setViewportSize({ width: 1280, height: 820 });
  });

  const boris = await newPage('boris');
  await step('boris (agent on Telegram and WhatsApp) sees only those, opens neither MAX, VK nor Avito by URL', async () => {
    await signIn(boris, base, 'boris', 'sandbox-boris');
    await until('two conversations listed', async () => (await boris.locator('#conversations li').count()) === 2);
    const platforms = await boris.locator('#conversations li').evaluateAll((lis) => lis.map((li) => li.dataset.platform).sort());
    check(JSON.stringify(platforms) === '["telegram","whatsapp"]', `Telegram and WhatsApp only, not ${platforms}`);
    await item(boris, conv.whatsapp.id).locator('a').click();
    await message(boris, hello).waitFor();
    check(await boris.locator('#composer').isVisible(), 'boris may reply: composer shown');
    check(await boris.locator('#manage').isHidden(), 'boris may not manage: no customer-data menu');
    for (const p of ['max', 'vk', 'avito']) {
      await boris.goto(`${base}/#/c/${conv[p].id}`);
      await until(`${p}: the page says there is no access`, async () =>
        /no access/i.test(await boris.textContent('#conv-error')));
      check((await boris.locator('#messages li').count()) === 0, `${p}: no message shown`);
      check(!(await boris.content()).includes(others[p]), `${p}: the customer\u2019s text is nowhere on the page`);
      check(await boris.locator('#composer').isHidden(), `${p}: no composer`);
    }
    await shot(boris, '08-agent-no-access.png');
  });

  const vera = await newPage('vera');
  await step('vera (viewer, read on Telegram) reads but is offered no composer', async () => {
    await signIn(vera, base, 'vera', 'sandbox-vera-1');
    await until('one conversation listed', async () => (await vera.locator('#conversations li').count()) === 1);
    await item(vera, conv.telegram.id).locator('a').click();
    await vera.locator('#messages li[data-kind="voice"]').waitFor();
    check(await vera.locator('#composer').isHidden(), 'no composer without the reply right');
    check(await vera.locator('#readonly').isVisible(), 'says it is read-only');
    check(await vera.locator('#manage').isHidden(), 'no customer-data menu without the manage right');
  });

  await step('an opt-out arrives live: shown on the conversation, and sending is refused with the button disabled', async () => {
    await item(page, conv.whatsapp.id).locator('a').click();
    await message(page, reply).waitFor();
    await customerSends('whatsapp', { text: 'STOP' });
    await page.locator('#conv-flags .flag.opted_out').waitFor();
    check(/opted out/i.test(await page.textContent('#conv-banner')), 'the banner says so');
    await page.fill('#text', said(`One more thing ${nonce}`));
    await until('the plan refuses it', async () => /opted out/i.test(await page.textContent('#plan .refused')));
    check(await page.locator('#send[disabled]').isVisible(), 'the send button is disabled');
    check(/opted out/.test(await item(page, conv.whatsapp.id).textContent()), 'the list marks it too');
    await shot(page, '09-opted-out.png');
  });

  await step('nothing a customer or an employee wrote reached the browser console; no script error', async () => {
    check(pageErrors.length === 0, `no uncaught error in the page: ${pageErrors.join('; ')}`);
    const leaked = consoleLines.filter((l) => CONTENT.some((t) => l.includes(t) || l.includes(nonce)));
    check(leaked.length === 0, `no content in the console: ${leaked.length} line(s)`);
    const csp = consoleLines.filter((l) => /Content Security Policy/i.test(l));
    check(csp.length === 0, `no content-security-policy violation: ${csp.join('; ')}`);
    const ours = consoleLines.filter((l) => /\] (log|info|debug|warning): /.test(l));
    check(ours.length === 0, `the page logs nothing: ${ours.join('; ')}`);
  });
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  await stopServer().catch(() => {});
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}

const watchdog = setTimeout(async () => {
  log(`FAIL: the whole run took over ${TOTAL / 1000} s`);
  for (const { name, page } of pages) await shot(page, `failure-${name}.png`).catch(() => {});
  await cleanup();
  process.exit(1);
}, TOTAL);

try {
  await run();
  clearTimeout(watchdog);
  await cleanup();
  log(`all ${checks} checks passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${SHOTS}`);
  process.exit(0);
} catch (err) {
  clearTimeout(watchdog);
  log(`FAIL: ${err.message}`);
  for (const { name, page } of pages) {
    await shot(page, `failure-${name}.png`).catch(() => {});
  }
  if (server) {
    const errs = server.err.join('').split('\n').slice(-40).join('\n');
    if (errs.trim()) log(`--- messenger serve, last lines of stderr ---\n${errs}`);
  }
  if (consoleLines.length) log(`--- browser console (${consoleLines.length} lines, last 20) ---\n${consoleLines.slice(-20).join('\n')}`);
  await cleanup();
  writeFileSync(join(SHOTS, 'FAILED.txt'), `${err.stack || err.message}\n`);
  process.exit(1);
}
