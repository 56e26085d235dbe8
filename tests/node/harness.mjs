// Helpers for driving @stomp/stompjs against RCP's WebSocket endpoint from
// node 20 (the `ws` package stands in for the browser's WebSocket):
// bounded waits, assertions, instrumented clients, receipts, subscriptions
// with an inbox, and the test server's /conformance/state ledger.

import { Client, Versions } from '@stomp/stompjs';
import WebSocket from 'ws';

// node 20 has no global WebSocket; stompjs expects one.
Object.assign(globalThis, { WebSocket });

export const WAIT_MS = 5000; // any one wait for the server
export const CLOSE_MS = 2000; // the server must have closed TCP by then

let url;
let stateURL;

// configure points the helpers at the server's ws:// (or wss://) URL; the
// ledger is read from /conformance/state on the same host.
export function configure(wsURL) {
  url = wsURL;
  stateURL = new URL(wsURL);
  stateURL.protocol = stateURL.protocol === 'wss:' ? 'https:' : 'http:';
  stateURL.pathname = '/conformance/state';
}

// ---- assertions and waits ------------------------------------------------

export function fail(msg) {
  throw new Error(msg);
}

export function assert(cond, msg) {
  if (!cond) fail(msg);
}

export function assertEq(got, want, what) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) fail(`${what}: got ${g}, want ${w}`);
}

export function assertBytes(got, want, what) {
  assert(got instanceof Uint8Array, `${what}: body is not bytes`);
  assertEq(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) fail(`${what}: byte ${i} is ${got[i]}, want ${want[i]}`);
  }
}

// within rejects if promise does not settle in ms: a hang is a failure.
export function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// eventually polls the server's state across the process boundary.
export async function eventually(check, what) {
  const end = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > end) fail(`not within ${WAIT_MS} ms: ${what}`);
    await sleep(20);
  }
}

export async function state(dest) {
  const u = new URL(stateURL);
  if (dest) u.searchParams.set('dest', dest);
  const res = await within(fetch(u), WAIT_MS, `GET ${u}`);
  if (!res.ok) fail(`GET ${u}: HTTP ${res.status}`);
  return res.json();
}

// ledgerMark notes the length of the handler's ledger; ledgerSince returns
// the ids acknowledged and refused after that mark.
export async function ledgerMark() {
  const s = await state();
  return { acked: s.acked.length, nacked: s.nacked.length };
}

export async function ledgerSince(mark) {
  const s = await state();
  return { acked: s.acked.slice(mark.acked), nacked: s.nacked.slice(mark.nacked) };
}

// ---- clients -------------------------------------------------------------

// open connects user and resolves once CONNECTED arrived. The socket is
// instrumented: heart-beats in and out, messages sent, the subprotocol.
export async function open(scope, user, opts = {}) {
  const versions = opts.versions ?? Versions.default;
  const stats = { pingsIn: 0, pingsOut: 0, sent: 0, protocol: undefined, lastIn: 0, maxGapIn: 0 };
  let onError;
  let onClose;
  const peer = {
    user,
    stats,
    error: new Promise((resolve) => (onError = resolve)),
    closed: new Promise((resolve) => (onClose = resolve)),
  };
  const connected = new Promise((resolve, reject) => {
    peer.client = new Client({
      webSocketFactory: () => {
        const ws = new WebSocket(url, versions.protocolVersions());
        ws.addEventListener('open', () => (stats.protocol = ws.protocol));
        ws.addEventListener('message', (ev) => {
          const now = Date.now();
          if (stats.lastIn) stats.maxGapIn = Math.max(stats.maxGapIn, now - stats.lastIn);
          stats.lastIn = now;
          if (ev.data === '\n') stats.pingsIn++;
        });
        const send = ws.send.bind(ws);
        ws.send = (data, ...rest) => {
          stats.sent++;
          if (data === '\n') stats.pingsOut++;
          return send(data, ...rest);
        };
        return ws;
      },
      connectHeaders: { login: user, passcode: 'secret' },
      stompVersions: versions,
      heartbeatIncoming: opts.heartbeat ?? 0,
      heartbeatOutgoing: opts.heartbeat ?? 0,
      reconnectDelay: 0,
      debug: () => {},
      ...opts.client,
      onConnect: resolve,
      onStompError: (frame) => {
        onError(frame);
        reject(new Error(`ERROR ${frame.headers.message}: ${frame.body}`));
      },
      onWebSocketClose: (ev) => {
        onClose(ev);
        reject(new Error(`socket closed before CONNECTED: ${ev.code}`));
      },
    });
  });
  scope.clients.push(peer);
  peer.client.activate();
  peer.connected = await within(connected, WAIT_MS, `CONNECT as ${user}`);
  return peer;
}

let receiptSeq = 0;

// receipt registers a watcher before the frame that asks for it is sent.
export function receipt(peer, prefix = 'r') {
  const id = `${prefix}-${++receiptSeq}`;
  const got = new Promise((resolve) => peer.client.watchForReceipt(id, resolve));
  return { id, wait: (what) => within(got, WAIT_MS, what ?? `RECEIPT ${id}`) };
}

// publish sends with a receipt and resolves with the RECEIPT frame.
export async function publish(peer, params) {
  const r = receipt(peer);
  peer.client.publish({ ...params, headers: { ...(params.headers ?? {}), receipt: r.id } });
  return r.wait(`RECEIPT for SEND to ${params.destination}`);
}

// barrier returns once the server has handled everything sent before it.
export async function barrier(peer) {
  await publish(peer, { destination: '/conformance/barrier', body: '' });
}

// subscribe resolves once the server confirmed the subscription.
export async function subscribe(peer, destination, headers = {}) {
  const inbox = [];
  const waiters = [];
  const r = receipt(peer, 'sub');
  const sub = peer.client.subscribe(
    destination,
    (msg) => {
      const w = waiters.shift();
      if (w) w(msg);
      else inbox.push(msg);
    },
    { ...headers, receipt: r.id },
  );
  await r.wait(`RECEIPT for SUBSCRIBE ${destination}`);
  return {
    id: sub.id,
    sub,
    pending: () => inbox.length,
    next(what) {
      if (inbox.length) return Promise.resolve(inbox.shift());
      return within(new Promise((resolve) => waiters.push(resolve)), WAIT_MS, what ?? `MESSAGE on ${destination}`);
    },
    async take(n) {
      const out = [];
      for (let i = 0; i < n; i++) out.push(await this.next());
      return out;
    },
  };
}

// appId is the application's message id: message-id is "<app id>.<tag>".
export function appId(msg) {
  const id = msg.headers['message-id'];
  assert(/^\d+\.\d+$/.test(id ?? ''), `message-id ${id} is not <app id>.<tag>`);
  return id.split('.')[0];
}

// ackable checks the headers of client and client-individual messages.
export function ackable(msgs, sub) {
  for (const m of msgs) {
    assertEq(m.headers.ack, m.headers['message-id'], 'ack header equals message-id');
    assertEq(m.headers.subscription, sub.id, 'subscription');
  }
  return msgs.map(appId);
}
