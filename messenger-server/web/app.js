// messenger inbox: the web page of messenger-server. One module, no dependencies, no build.
//
// The session token lives in this tab's sessionStorage and travels in the Authorization
// header (no cookies). Live updates come from the server-sent-event stream, opened with a
// one-use ticket; its events carry ids only, and the page re-reads what they name.
// Nothing here writes to the console: message content must never reach a log.

const $ = (id) => document.getElementById(id);
const PLATFORMS = { telegram: 'Telegram', whatsapp: 'WhatsApp', max: 'MAX', vk: 'VK', avito: 'Avito' };
const KIND_NAMES = {
  text: 'text', image: 'image', file: 'file', voice: 'voice note', audio: 'audio file',
  video: 'video', sticker: 'sticker',
};
const TOKEN_KEY = 'messenger.session';
const SENT_AS_KEY = 'messenger.sent-as'; // what this tab's sends became (the history keeps the draft)
const PAGE = 50;

const S = {
  token: null,
  me: null,
  accounts: new Map(), // account id -> account (with permissions)
  conversations: [],
  open: null, // the open conversation (see openConversation)
  events: null,
  eventsGen: 0,
  retry: 0,
  draft: { file: null, key: null, seq: 0, plan: null, sending: false },
};

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, kind, message) {
    super(message);
    this.status = status;
    this.kind = kind;
  }
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (S.token) headers.Authorization = `Bearer ${S.token}`;
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check the connection and try again.');
  }
  if (res.status === 401 && S.token && path !== '/api/auth/sign-in') {
    signOut('Your session has ended. Sign in again.');
    throw new ApiError(401, 'unauthenticated', 'Your session has ended.');
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    throw new ApiError(res.status, err.kind || 'http', err.message || `The server answered ${res.status}.`);
  }
  return data;
}

/** A blob URL of a message's media (fetched with the bearer token), cached per open conversation. */
function mediaUrl(messageId) {
  const open = S.open;
  if (!open) return Promise.reject(new Error('closed'));
  if (!open.media.has(messageId)) {
    const p = fetch(`/api/messages/${messageId}/media`, {
      headers: { Authorization: `Bearer ${S.token}` }, cache: 'no-store', credentials: 'omit',
    }).then(async (res) => {
      if (!res.ok) throw new ApiError(res.status, 'media', `The media could not be loaded (${res.status}).`);
      return URL.createObjectURL(await res.blob());
    });
    p.catch(() => open.media.delete(messageId));
    open.media.set(messageId, p);
  }
  return open.media.get(messageId);
}

// ---------------------------------------------------------------- small helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function platformName(p) { return PLATFORMS[p] || p; }
function platformBadge(p) { return el('span', { class: `platform ${p}`, text: platformName(p) }); }

function humanSize(n) {
  if (n === null || n === undefined) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
function shortTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? timeFmt.format(d) : dateFmt.format(d);
}

function customerName(c) {
  return c.customer_name || (c.customer_state === 'anonymised' ? 'Anonymised customer' : `Customer ${c.customer}`);
}

function announce(text) {
  const node = $('announce');
  node.textContent = '';
  setTimeout(() => { node.textContent = text; }, 50);
}

function debounce(fn, ms) {
  let t = null;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// ---------------------------------------------------------------- sign-in and out

function showSignIn(message) {
  $('app').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message || '';
  $('password').value = '';
  $('login').focus();
}

async function onSignIn(e) {
  e.preventDefault();
  const login = $('login').value.trim();
  const password = $('password').value;
  if (!login || !password) {
    $('signin-error').textContent = 'Enter your login and password.';
    return;
  }
  $('signin-button').disabled = true;
  $('signin-error').textContent = '';
  try {
    const r = await api('POST', '/api/auth/sign-in', { login, password });
    S.token = r.token;
    sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ token: r.token, expires_at: r.expires_at }));
    $('password').value = '';
    await start();
  } catch (err) {
    $('signin-error').textContent = err.status === 429
      ? 'Too many attempts. Wait a minute and try again.'
      : err.message;
  } finally {
    $('signin-button').disabled = false;
  }
}

function signOut(message) {
  const token = S.token;
  S.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(SENT_AS_KEY);
  closeEvents();
  closeConversation();
  S.me = null;
  S.conversations = [];
  if (token && !message) {
    fetch('/api/auth/sign-out', { method: 'POST', headers: { Authorization: `Bearer ${token}` }, credentials: 'omit' })
      .catch(() => {});
  }
  if (location.hash) history.replaceState(null, '', location.pathname);
  showSignIn(message);
}

async function start() {
  await loadMe();
  $('signin').hidden = true;
  $('app').hidden = false;
  await loadList();
  connectEvents();
  await route();
}

async function loadMe() {
  S.me = await api('GET', '/api/me');
  S.accounts = new Map(S.me.accounts.map((a) => [a.id, a]));
  const e = S.me.employee;
  $('who').textContent = `${e.name} (${e.role})`;
}

// ---------------------------------------------------------------- the conversation list

async function loadList() {
  const r = await api('GET', '/api/conversations?limit=200');
  S.conversations = r.conversations;
  renderList(r.unread_total);
}

const refreshList = debounce(() => { loadList().catch(showListError); }, 120);

function showListError(err) {
  if (err.status !== 401) $('list-empty').textContent = `The list could not be loaded: ${err.message}`;
}

function renderList(unreadTotal) {
  const ul = $('conversations');
  const openId = S.open ? S.open.id : null;
  ul.replaceChildren(...S.conversations.map((c) => {
    const account = S.accounts.get(c.account);
    const flags = [];
    if (c.opted_out) flags.push('opted out');
    if (c.customer_state !== 'normal') flags.push(c.customer_state);
    const label = [
      customerName(c), platformName(c.platform),
      c.unread ? `${c.unread} unread` : null, ...flags,
    ].filter(Boolean).join(', ');
    return el('li', { class: c.unread ? 'unread' : '', 'data-conversation': c.id, 'data-platform': c.platform },
      el('a', { href: `#/c/${c.id}`, 'aria-current': c.id === openId ? 'page' : null, 'aria-label': label },
        platformBadge(c.platform),
        el('span', { class: 'name', text: customerName(c) }),
        el('time', { datetime: c.last_message_at || null, text: shortTime(c.last_message_at) }),
        el('span', { class: 'acct', text: [account ? account.display_name : `Account ${c.account}`, ...flags].join(' · ') }),
        c.unread ? el('span', { class: 'badge unread-count', text: String(c.unread) }) : null));
  }));
  $('list-empty').hidden = S.conversations.length > 0;
  const badge = $('unread-total');
  badge.hidden = !unreadTotal;
  badge.replaceChildren(String(unreadTotal || ''), el('span', { class: 'visually-hidden', text: ' unread' }));
  document.title = unreadTotal ? `(${unreadTotal}) messenger inbox` : 'messenger inbox';
}

// ---------------------------------------------------------------- routing

async function route() {
  if (!S.token) return;
  const m = /^#\/c\/(\d+)$/.exec(location.hash);
  if (m) await openConversation(Number(m[1]));
  else showList();
}

function closeConversation() {
  const was = S.open ? S.open.id : null;
  if (S.open) for (const p of S.open.media.values()) p.then((u) => URL.revokeObjectURL(u), () => {});
  S.open = null;
  document.body.classList.remove('conv-open');
  $('conv').hidden = true;
  $('conv-placeholder').hidden = false;
  resetDraft();
  if (S.conversations.length) renderList(currentUnreadTotal());
  return was;
}

/** Back to the list: keyboard focus returns to the conversation that was open. */
function showList() {
  const was = closeConversation();
  const link = was === null ? null : document.querySelector(`#conversations li[data-conversation="${was}"] a`);
  if (link && !$('app').hidden) link.focus({ preventScroll: false });
}

function currentUnreadTotal() {
  return S.conversations.reduce((n, c) => n + (c.unread || 0), 0);
}

// ---------------------------------------------------------------- one conversation

async function openConversation(id) {
  if (S.open && S.open.id === id) return;
  closeConversation();
  const open = { id, summary: null, customer: null, permissions: null, messages: new Map(), nodes: new Map(),
    outbox: new Map(), media: new Map(), nextBefore: null, denied: false };
  S.open = open;
  document.body.classList.add('conv-open');
  $('conv-placeholder').hidden = true;
  $('conv').hidden = false;
  $('conv-title').textContent = 'Loading…';
  $('conv-sub').textContent = '';
  $('conv-flags').replaceChildren();
  $('messages').replaceChildren();
  $('conv-banner').hidden = true;
  $('conv-error').hidden = true;
  $('composer').hidden = true;
  $('readonly').hidden = true;
  $('manage').hidden = true;
  $('earlier').hidden = true;
  renderList(currentUnreadTotal());
  try {
    await loadHeader(open);
    if (S.open === open) $('conv-title').focus({ preventScroll: true });
    await loadMessages(open, null);
    if (S.open !== open) return;
    scrollToEnd();
    markRead(open, open.summary.unread > 0);
  } catch (err) {
    if (S.open !== open) return;
    if (err.status === 403 || err.status === 404) {
      open.denied = true;
      $('conv-title').textContent = 'No access';
      $('conv-sub').textContent = '';
      showConvError('You have no access to this conversation, or it does not exist.');
      $('composer').hidden = true;
      $('messages').replaceChildren();
    } else if (err.status !== 401) {
      showConvError(`The conversation could not be loaded: ${err.message}`);
    }
  }
}

function showConvError(text) {
  const p = $('conv-error');
  p.textContent = text;
  p.hidden = !text;
}

async function loadHeader(open) {
  const r = await api('GET', `/api/conversations/${open.id}`);
  if (S.open !== open) return;
  open.summary = r.conversation;
  open.customer = r.customer;
  open.permissions = r.permissions;
  renderHeader(open);
}

function renderHeader(open) {
  const c = open.summary;
  const account = S.accounts.get(c.account);
  $('conv-title').textContent = customerName(c);
  $('conv-sub').replaceChildren(platformBadge(c.platform), ` ${account ? account.display_name : `Account ${c.account}`}`);
  const flags = [];
  if (c.opted_out) flags.push(el('span', { class: 'flag opted_out', text: 'Opted out' }));
  if (c.customer_state === 'blocked') flags.push(el('span', { class: 'flag blocked', text: 'Blocked' }));
  if (c.customer_state === 'anonymised') flags.push(el('span', { class: 'flag anonymised', text: 'Anonymised' }));
  if (account && account.state !== 'active') flags.push(el('span', { class: 'flag', text: `Account ${account.state}` }));
  $('conv-flags').replaceChildren(...flags);
  let banner = '';
  if (c.opted_out) banner = 'The customer opted out of this account\u2019s messages: nothing can be sent to them.';
  else if (c.customer_state === 'blocked') banner = 'Processing of this customer\u2019s data is blocked: nothing can be sent to them.';
  else if (c.customer_state === 'anonymised') banner = 'This customer was anonymised: nothing can be sent to them.';
  $('conv-banner').textContent = banner;
  $('conv-banner').hidden = !banner;
  const p = open.permissions;
  const canReply = !!(p && p.reply);
  $('composer').hidden = !canReply;
  $('readonly').hidden = canReply;
  const manage = !!(p && p.manage);
  $('manage').hidden = !manage;
  if (manage) {
    $('block').hidden = c.customer_state !== 'normal';
    $('unblock').hidden = c.customer_state !== 'blocked';
  }
  if (canReply) schedulePlan();
}

async function loadMessages(open, before) {
  const q = before ? `?before=${before}&limit=${PAGE}` : `?limit=${PAGE}`;
  const r = await api('GET', `/api/conversations/${open.id}/messages${q}`);
  if (S.open !== open) return;
  const initial = open.messages.size === 0;
  let fresh = 0;
  for (const m of r.messages) {
    if (!open.messages.has(m.id) && m.direction === 'inbound') fresh += 1;
    open.messages.set(m.id, m);
  }
  // Paging back moves the cursor; a refresh of the newest page leaves it where it is.
  if (before || initial) open.nextBefore = r.next_before;
  await loadOutbox(open);
  if (S.open !== open) return;
  renderMessages(open);
  return fresh;
}

/** The outbox rows of outbound messages that are not known to be sent (queued, maybe sent, failed). */
async function loadOutbox(open) {
  const wanted = [...open.messages.values()].filter((m) => m.direction === 'outbound' && m.outbox !== null
    && (m.status === 'pending' || m.status === 'failed' || m.status === null));
  await Promise.all(wanted.map(async (m) => {
    try {
      open.outbox.set(m.id, await api('GET', `/api/outbox/${m.outbox}`));
    } catch {
      open.outbox.delete(m.id);
    }
  }));
}

let pendingHeader = false;
const refreshOpenSoon = debounce(async () => {
  const open = S.open;
  const header = pendingHeader;
  pendingHeader = false;
  if (!open || open.denied) return;
  try {
    if (header) await loadHeader(open);
    const nearEnd = isNearEnd();
    const fresh = await loadMessages(open, null);
    if (S.open !== open) return;
    if (nearEnd) scrollToEnd();
    if (fresh) {
      announce(`New message from ${customerName(open.summary)}`);
      markRead(open, true);
    }
  } catch (err) {
    if ((err.status === 403 || err.status === 404) && S.open === open) await reopen();
  }
}, 120);

/** Re-reads the open conversation (its header too with `{header: true}`), coalescing calls. */
function refreshOpen(opts = {}) {
  if (opts.header) pendingHeader = true;
  refreshOpenSoon();
}

/** Opens the open conversation again from scratch (after a change of rights). */
async function reopen() {
  if (!S.open) return;
  const id = S.open.id;
  closeConversation();
  await openConversation(id);
}

function isNearEnd() {
  const s = $('scroller');
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}

function scrollToEnd() {
  const s = $('scroller');
  s.scrollTop = s.scrollHeight;
}

async function markRead(open, force = false) {
  if (document.visibilityState !== 'visible' || !open.summary || S.open !== open) return;
  const item = S.conversations.find((c) => c.id === open.id);
  const unread = item ? item.unread : open.summary.unread;
  if (!unread && !force) return;
  try {
    await api('POST', `/api/conversations/${open.id}/read`);
    if (item) item.unread = 0;
    renderList(currentUnreadTotal());
    refreshList();
  } catch {
    // The mark stays where it was; the next refresh tries again.
  }
}

// ---------------------------------------------------------------- messages

function renderMessages(open) {
  const ol = $('messages');
  const sorted = [...open.messages.values()].sort((a, b) => a.id - b.id);
  const notes = sentAs();
  const nodes = [];
  for (const m of sorted) {
    const entry = open.outbox.get(m.id) || null;
    const sig = JSON.stringify([m.status, m.status_error, m.edited, m.anonymised, m.content.kind,
      entry && entry.state, open.permissions && open.permissions.reply, notes[m.id]]);
    let cached = open.nodes.get(m.id);
    if (!cached || cached.sig !== sig) {
      cached = { sig, node: renderMessage(m, entry, open, notes[m.id]) };
      open.nodes.set(m.id, cached);
    }
    nodes.push(cached.node);
  }
  ol.replaceChildren(...nodes);
  $('earlier').hidden = !open.nextBefore;
}

function renderMessage(m, entry, open, sentNotes) {
  const out = m.direction === 'outbound';
  const bubble = el('div', { class: 'bubble' });
  const c = m.content;
  if (m.anonymised) {
    bubble.append(el('p', { class: 'text muted', text: '(content removed)' }));
  } else {
    const media = renderMedia(m, open);
    if (media) bubble.append(media);
    const text = c.kind === 'text' ? c.text : c.caption;
    if (text) bubble.append(el('p', { class: 'text', text }));
    if (c.kind === 'location') {
      const where = [c.name, c.address].filter(Boolean).join(', ');
      bubble.append(el('p', { class: 'text', text: `Location: ${where ? `${where} ` : ''}(${c.latitude}, ${c.longitude})` }));
    } else if (c.kind === 'contact') {
      bubble.append(el('p', { class: 'text', text: `Contact: ${[c.name, c.phone].filter(Boolean).join(', ') || 'no details'}` }));
    } else if (c.kind === 'unsupported') {
      bubble.append(el('p', { class: 'text muted', text: `(a ${c.platform_kind} this inbox cannot show)` }));
    } else if (c.kind === 'sticker' && c.emoji) {
      bubble.append(el('p', { class: 'text', text: c.emoji }));
    }
  }
  const meta = el('div', { class: 'meta' });
  if (m.edited) meta.append(el('span', { text: 'edited' }));
  meta.append(el('time', { datetime: m.sent_at, text: shortTime(m.sent_at) }));
  if (out) {
    const t = tick(m, entry);
    if (t) meta.append(t);
  }
  bubble.append(meta);
  if (out) {
    if (Array.isArray(sentNotes)) for (const n of sentNotes) bubble.append(el('p', { class: 'sent-as', text: n }));
    const note = outboxNote(m, entry, open);
    if (note) bubble.append(note);
  }
  return el('li', {
    class: `msg ${out ? 'out' : 'in'}`, 'data-id': m.id, 'data-kind': c.kind,
    'data-status': out ? (m.status || 'unknown') : null, 'data-outbox': entry ? entry.state : null,
  }, bubble);
}

const TICKS = {
  pending: ['\u25F7', 'Waiting to be sent'],
  sent: ['\u2713', 'Sent'],
  delivered: ['\u2713\u2713', 'Delivered'],
  read: ['\u2713\u2713', 'Read'],
  failed: ['!', 'Not sent'],
};

function tick(m, entry) {
  if (entry && (entry.state === 'maybe_sent' || entry.state === 'cancelled')) return null;
  const t = TICKS[m.status];
  if (!t) return null;
  return el('span', { class: `tick ${m.status}`, title: t[1] },
    el('span', { 'aria-hidden': 'true', class: 'glyph', text: t[0] }),
    el('span', { class: 'visually-hidden', text: t[1] }));
}

function outboxNote(m, entry, open) {
  const canReply = !!(open.permissions && open.permissions.reply);
  if (entry && entry.state === 'maybe_sent') {
    const note = el('div', { class: 'outbox-note maybe-sent', role: 'group', 'aria-label': 'Maybe sent' },
      el('p', { text: 'Maybe sent: the connection was lost after the request left, so the customer may or may not have it.' }));
    if (canReply) {
      note.append(
        el('button', { type: 'button', class: 'resend', text: 'Send again', onclick: () => resolveOutbox(entry, 'resend') }),
        el('button', { type: 'button', class: 'dismiss', text: 'Dismiss', onclick: () => resolveOutbox(entry, 'dismiss') }));
    }
    return note;
  }
  if (entry && entry.state === 'cancelled') {
    return el('div', { class: 'outbox-note' }, el('p', { text: 'Dismissed: it will not be sent again.' }));
  }
  if (entry && entry.state === 'queued' && m.status === 'pending' && canReply && entry.attempts > 0) {
    const note = el('div', { class: 'outbox-note' },
      el('p', { text: `Retrying (${entry.attempts} attempt${entry.attempts === 1 ? '' : 's'} so far).` }));
    note.append(el('button', { type: 'button', class: 'dismiss', text: 'Withdraw', onclick: () => resolveOutbox(entry, 'dismiss') }));
    return note;
  }
  if (m.status === 'failed' || (entry && entry.state === 'failed')) {
    const why = m.status_error
      ? [m.status_error.message, m.status_error.kind && `(${m.status_error.kind.replace(/_/g, ' ')})`].filter(Boolean).join(' ')
      : entry && entry.error_kind ? `(${entry.error_kind.replace(/_/g, ' ')})` : '';
    const note = el('div', { class: 'outbox-note failed', role: 'group', 'aria-label': 'Not sent' },
      el('p', { text: `Not sent${why ? `: ${why}` : '.'}` }));
    if (canReply && m.content.kind === 'text' && !m.anonymised) {
      note.append(el('button', { type: 'button', class: 'resend', text: 'Send again', onclick: () => sendAgain(m) }));
    }
    return note;
  }
  return null;
}

async function resolveOutbox(entry, action) {
  const open = S.open;
  if (action === 'resend' && !confirm('The customer may already have this message. Send it again?')) return;
  try {
    await api('POST', `/api/outbox/${entry.id}/${action}`);
  } catch (err) {
    showConvError(err.message);
  }
  if (open === S.open) refreshOpen();
}

async function sendAgain(m) {
  const open = S.open;
  const draft = { kind: 'text', text: m.content.text };
  try {
    const plan = await api('POST', `/api/conversations/${open.id}/plan`, { draft });
    if (!plan.sendable) {
      showConvError(refusalText(plan, open));
      return;
    }
    await api('POST', `/api/conversations/${open.id}/messages`, { idempotency_key: newKey(), draft });
  } catch (err) {
    showConvError(err.message);
  }
  if (open === S.open) refreshOpen();
}

function renderMedia(m, open) {
  const c = m.content;
  if (!c.media) return null;
  const box = el('div', { class: 'media' });
  const name = c.media.file_name || '';
  const size = humanSize(c.media.size);
  const failed = (what) => () => box.replaceChildren(el('span', { class: 'kind error', text: `${what} could not be loaded.` }));
  switch (c.kind) {
    case 'image':
    case 'sticker': {
      const img = el('img', { alt: c.kind === 'sticker' ? 'Sticker' : (name ? `Image ${name}` : 'Image') });
      box.append(img);
      mediaUrl(m.id).then((u) => { img.src = u; }, failed(c.kind === 'sticker' ? 'The sticker' : 'The image'));
      break;
    }
    case 'voice':
    case 'audio':
    case 'video': {
      const label = c.kind === 'voice' ? 'Voice note' : c.kind === 'audio' ? 'Audio' : 'Video';
      const player = el(c.kind === 'video' ? 'video' : 'audio',
        { controls: true, preload: 'metadata', 'aria-label': label });
      box.append(el('span', { class: 'kind', text: [label, name, size].filter(Boolean).join(' · ') }), player);
      mediaUrl(m.id).then((u) => { player.src = u; }, failed(`The ${label.toLowerCase()}`));
      break;
    }
    default: {
      const button = el('button', { type: 'button', class: 'download', text: `Download ${name || 'file'}${size ? ` (${size})` : ''}` });
      button.addEventListener('click', async () => {
        button.disabled = true;
        try {
          const u = await mediaUrl(m.id);
          const a = el('a', { href: u, download: name || `file-${m.id}` });
          document.body.append(a);
          a.click();
          a.remove();
        } catch {
          failed('The file')();
        } finally {
          button.disabled = false;
        }
      });
      box.append(el('span', { class: 'kind', text: 'File' }), button);
    }
  }
  return box;
}

// ---------------------------------------------------------------- the composer

function resetDraft() {
  S.draft.file = null;
  S.draft.key = null;
  S.draft.plan = null;
  S.draft.seq += 1;
  $('text').value = '';
  $('file').value = '';
  $('attachment').hidden = true;
  $('plan').replaceChildren();
  $('send').disabled = true;
}

/** The kinds a file may be sent as, the default first. */
function kindsFor(file) {
  const t = (file.type || '').toLowerCase();
  if (t.startsWith('image/')) return ['image', 'file'];
  if (t.startsWith('audio/')) return ['voice', 'audio', 'file'];
  if (t.startsWith('video/')) return ['video', 'file'];
  return ['file'];
}

function onFileChosen() {
  const file = $('file').files[0];
  if (!file) return;
  S.draft.file = file;
  S.draft.key = null;
  $('att-name').textContent = `${file.name} (${humanSize(file.size)})`;
  const select = $('att-kind');
  select.replaceChildren(...kindsFor(file).map((k) => el('option', { value: k, text: KIND_NAMES[k] })));
  $('attachment').hidden = false;
  $('text').placeholder = 'Add a caption';
  schedulePlan();
}

function removeAttachment() {
  S.draft.file = null;
  S.draft.key = null;
  $('file').value = '';
  $('attachment').hidden = true;
  $('text').placeholder = 'Write a message';
  schedulePlan();
}

/** The draft as the plan endpoint takes it: media described by size (nothing uploaded yet). */
function draftShape() {
  const text = $('text').value;
  const file = S.draft.file;
  if (file) {
    const draft = {
      kind: $('att-kind').value,
      media: { size: file.size, mime_type: file.type || 'application/octet-stream', file_name: file.name },
    };
    if (text.trim()) draft.caption = text;
    return draft;
  }
  if (!text.trim()) return null;
  return { kind: 'text', text };
}

function schedulePlan() {
  S.draft.seq += 1;
  S.draft.plan = null;
  S.draft.key = null;
  $('send').disabled = true;
  planSoon();
}

const planSoon = debounce(runPlan, 250);

async function runPlan() {
  const open = S.open;
  if (!open || !open.permissions || !open.permissions.reply) return;
  const seq = S.draft.seq;
  const draft = draftShape();
  if (!draft) {
    $('plan').replaceChildren();
    if (open.summary && (open.summary.opted_out || open.summary.customer_state !== 'normal')) {
      $('send').disabled = true;
    }
    return;
  }
  try {
    const plan = await api('POST', `/api/conversations/${open.id}/plan`, { draft });
    if (seq !== S.draft.seq || open !== S.open) return;
    S.draft.plan = plan;
    renderPlan(plan, draft, open);
    $('send').disabled = !plan.sendable || S.draft.sending;
  } catch (err) {
    if (seq !== S.draft.seq || open !== S.open) return;
    $('plan').replaceChildren(el('p', { class: 'refused', text: err.message }));
    $('send').disabled = true;
  }
}

function refusalText(plan, open) {
  const e = plan.error || {};
  const platform = platformName(plan.platform || (open.summary && open.summary.platform));
  switch (e.kind) {
    case 'opted_out': return 'Cannot send: the customer opted out of this account\u2019s messages.';
    case 'blocked': return 'Cannot send: processing of this customer\u2019s data is blocked.';
    case 'anonymised': return 'Cannot send: the customer was anonymised.';
    case 'outside_reply_window':
      return `Cannot send: ${platform}\u2019s reply window is closed (the customer has not written recently). Only a template message could reach them now.`;
    case 'module_inactive': return 'Cannot send: the messenger module is not active for this account.';
    case 'account_suspended': return 'Cannot send: the service suspended this account.';
    default: return `Cannot send: ${e.message || 'the platform refuses this message.'}`;
  }
}

function downgradeText(d, platform, draft) {
  const from = KIND_NAMES[d.from] || d.from;
  const to = KIND_NAMES[d.to] || d.to;
  const subject = draft.kind === 'voice' && d.from === 'voice' ? 'This voice note' : `This ${from}`;
  switch (d.reason) {
    case 'text_split': return `The text is over ${platform}\u2019s limit of ${d.limit} characters: it will be split into ${d.parts} messages.`;
    case 'caption_moved': return d.limit
      ? `The caption is over ${platform}\u2019s limit of ${d.limit} characters: it will be sent as a separate text.`
      : `A ${to} on ${platform} takes no caption: the caption will be sent as a separate text.`;
    case 'kind_unsupported': return `${subject} will be sent as ${to === 'audio file' ? 'audio' : `a ${to}`}: ${platform} cannot send a ${from}.`;
    case 'mime_refused': return `${subject} will be sent as ${to === 'audio file' ? 'audio' : `a ${to}`}: ${platform} does not take ${d.mime_type} as a ${from}.`;
    case 'too_large_for_kind': return `${subject} will be sent as ${to === 'audio file' ? 'audio' : `a ${to}`}: ${humanSize(d.size)} is over ${platform}\u2019s ${humanSize(d.limit)} limit for a ${from}.`;
    case 'url_as_link': return `${platform} cannot take this media by URL: the link will be sent as text.`;
    case 'by_url_unsupported': return `${subject} will be sent as ${to}: ${platform} cannot fetch a ${from} from a URL.`;
    default: return `${subject} will be sent as ${to}.`;
  }
}

function renderPlan(plan, draft, open) {
  const box = $('plan');
  if (!plan.sendable) {
    box.replaceChildren(el('p', { class: 'refused', text: refusalText(plan, open) }));
    return;
  }
  const platform = platformName(plan.platform);
  const notes = plan.downgrades.map((d) => downgradeText(d, platform, draft));
  if (plan.parts.length > 1 && !plan.downgrades.some((d) => d.reason === 'text_split')) {
    notes.push(`It will arrive as ${plan.parts.length} messages.`);
  }
  if (plan.reply_window === 'unknown') {
    notes.push(`${platform} may refuse it if the customer\u2019s reply window has closed; a refusal shows here as \u201cNot sent\u201d.`);
  }
  if (!notes.length) {
    box.replaceChildren();
    return;
  }
  box.replaceChildren(el('div', { class: 'warn downgrades' },
    el('p', { text: 'Before you send:' }),
    el('ul', {}, ...notes.map((n) => el('li', { text: n })))));
}

/** What a downgrade did, said after the fact (under the sent message). */
function sentAsText(d, platform) {
  const to = d.to === 'audio' ? 'audio' : `a ${KIND_NAMES[d.to] || d.to}`;
  const from = KIND_NAMES[d.from] || d.from;
  switch (d.reason) {
    case 'text_split': return `Sent as ${d.parts} messages (over ${platform}\u2019s ${d.limit}-character limit).`;
    case 'caption_moved': return 'The caption was sent as a separate text.';
    case 'mime_refused': return `Sent as ${to}: ${platform} does not take ${d.mime_type} as a ${from}.`;
    case 'too_large_for_kind': return `Sent as ${to}: over ${platform}\u2019s size limit for a ${from}.`;
    case 'url_as_link': return 'Sent as a link.';
    default: return `Sent as ${to}: ${platform} cannot send a ${from}.`;
  }
}

function sentAs() {
  try { return JSON.parse(sessionStorage.getItem(SENT_AS_KEY) || '{}'); } catch { return {}; }
}

function rememberSentAs(messageId, notes) {
  const all = sentAs();
  all[messageId] = notes;
  const ids = Object.keys(all).map(Number).sort((a, b) => b - a).slice(0, 200);
  sessionStorage.setItem(SENT_AS_KEY, JSON.stringify(Object.fromEntries(ids.map((i) => [i, all[i]]))));
}

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).split(',', 2)[1] || '');
    r.onerror = () => reject(new ApiError(0, 'file', 'The file could not be read.'));
    r.readAsDataURL(file);
  });
}

async function onSend(e) {
  e.preventDefault();
  const open = S.open;
  if (!open || $('send').disabled || S.draft.sending || !S.draft.plan || !S.draft.plan.sendable) return;
  const seq = S.draft.seq;
  const shape = draftShape();
  if (!shape) return;
  S.draft.sending = true;
  $('send').disabled = true;
  $('send').textContent = 'Sending…';
  if (!S.draft.key) S.draft.key = newKey();
  try {
    let draft = shape;
    if (S.draft.file) {
      const data = await readBase64(S.draft.file);
      draft = { kind: shape.kind, media: { data, mime_type: shape.media.mime_type, file_name: shape.media.file_name } };
      if (shape.caption) draft.caption = shape.caption;
    }
    const plan = S.draft.plan;
    const entry = await api('POST', `/api/conversations/${open.id}/messages`, { idempotency_key: S.draft.key, draft });
    if (plan && plan.downgrades.length && entry && entry.message) {
      rememberSentAs(entry.message, plan.downgrades.map((d) => sentAsText(d, platformName(plan.platform))));
    }
    if (open === S.open) {
      resetDraft();
      $('text').placeholder = 'Write a message';
      showConvError('');
      refreshOpen();
      refreshList();
    }
  } catch (err) {
    if (open === S.open) {
      showConvError(`Not sent: ${err.message}`);
      // The same key again on a retry of the same draft: never a second send.
      if (seq === S.draft.seq) $('send').disabled = false;
    }
  } finally {
    S.draft.sending = false;
    $('send').textContent = 'Send';
  }
}

// ---------------------------------------------------------------- customer data (manage right)

async function exportCustomer() {
  const open = S.open;
  if (!open) return;
  try {
    const data = await api('GET', `/api/customers/${open.summary.customer}/export`);
    const u = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
    const a = el('a', { href: u, download: `customer-${open.summary.customer}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(u), 10_000);
  } catch (err) {
    showConvError(err.message);
  }
}

async function setBlocked(block) {
  const open = S.open;
  if (!open) return;
  const question = block
    ? 'Block processing of this customer\u2019s data? Nothing will be sent to them until it is unblocked.'
    : 'Unblock processing of this customer\u2019s data?';
  if (!confirm(question)) return;
  try {
    await api('POST', `/api/customers/${open.summary.customer}/${block ? 'block' : 'unblock'}`);
    $('manage').open = false;
    await loadHeader(open);
    refreshList();
  } catch (err) {
    showConvError(err.message);
  }
}

// ---------------------------------------------------------------- live events

function setLive(on, text) {
  const p = $('live');
  p.dataset.state = on ? 'on' : 'off';
  p.textContent = text || (on ? 'Live' : 'Reconnecting…');
}

function closeEvents() {
  S.eventsGen += 1;
  if (S.events) S.events.close();
  S.events = null;
}

async function connectEvents() {
  closeEvents();
  const gen = S.eventsGen;
  if (!S.token) return;
  let ticket;
  try {
    ticket = await api('POST', '/api/auth/ticket');
  } catch (err) {
    if (err.status !== 401) reconnectLater(gen);
    return;
  }
  if (gen !== S.eventsGen || !S.token) return;
  const es = new EventSource(ticket.url);
  S.events = es;
  const on = (name, fn) => es.addEventListener(name, (e) => {
    if (gen !== S.eventsGen) return;
    let data = {};
    try { data = JSON.parse(e.data); } catch { /* ids only; nothing to show */ }
    fn(data);
  });
  on('ready', () => {
    S.retry = 0;
    setLive(true);
    resync();
  });
  on('resync', resync);
  on('new_message', (n) => {
    refreshList();
    if (S.open && S.open.id === n.conversation) refreshOpen();
  });
  on('status', (n) => { if (S.open && S.open.id === n.conversation) refreshOpen(); });
  on('maybe_sent', (n) => { if (S.open && S.open.id === n.conversation) refreshOpen(); });
  on('assigned', () => refreshList());
  on('contact_changed', (n) => {
    refreshList();
    if (S.open && S.open.id === n.conversation) refreshOpen({ header: true });
  });
  on('grants_changed', async () => {
    try {
      await loadMe();
      await loadList();
      await reopen();
    } catch { /* the next event or reconnect re-reads */ }
  });
  on('subject_request', () => announce('A data subject\u2019s request arrived.'));
  es.onerror = () => {
    if (gen !== S.eventsGen) return;
    // A ticket is one-use: never let EventSource retry with it; ask for a new one.
    es.close();
    setLive(false);
    reconnectLater(gen);
  };
}

function reconnectLater(gen) {
  const wait = Math.min(30_000, 1000 * 2 ** S.retry);
  S.retry = Math.min(S.retry + 1, 5);
  setLive(false, 'Reconnecting…');
  setTimeout(() => { if (gen === S.eventsGen && S.token) connectEvents(); }, wait);
}

function resync() {
  refreshList();
  if (S.open && !S.open.denied) refreshOpen({ header: true });
}

// ---------------------------------------------------------------- wiring

function init() {
  $('signin-form').addEventListener('submit', onSignIn);
  $('signout').addEventListener('click', () => signOut());
  $('composer').addEventListener('submit', onSend);
  $('text').addEventListener('input', schedulePlan);
  $('text').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && window.matchMedia('(min-width: 761px)').matches) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('file').addEventListener('change', onFileChosen);
  $('att-kind').addEventListener('change', schedulePlan);
  $('att-remove').addEventListener('click', removeAttachment);
  $('earlier').addEventListener('click', async () => {
    const open = S.open;
    if (!open || !open.nextBefore) return;
    const s = $('scroller');
    const fromEnd = s.scrollHeight - s.scrollTop;
    try {
      await loadMessages(open, open.nextBefore);
      s.scrollTop = s.scrollHeight - fromEnd;
    } catch (err) {
      showConvError(err.message);
    }
  });
  $('export').addEventListener('click', exportCustomer);
  $('block').addEventListener('click', () => setBlocked(true));
  $('unblock').addEventListener('click', () => setBlocked(false));
  window.addEventListener('hashchange', () => { route(); });
  document.addEventListener('visibilitychange', () => { if (S.open) markRead(S.open); });

  let saved = null;
  try { saved = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || 'null'); } catch { saved = null; }
  if (saved && saved.token && new Date(saved.expires_at) > new Date()) {
    S.token = saved.token;
    start().catch((err) => { if (err.status !== 401) showSignIn(err.message); });
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignIn();
  }
}

init();
