// Conformance of RCP's STOMP-over-WebSocket endpoint with @stomp/stompjs 7
// running under node 20 on the `ws` package.
//
//   node tests/node/conformance.mjs ws://127.0.0.1:PORT/ws
//
// stomp/conformance_stompjs_test.go runs it against the stomp package's
// server with the in-memory topic handler (memtopic, which answers a SEND's
// receipt with x-message-id) and serves that handler's ledger as JSON at
// GET /conformance/state on the same host: {acked, nacked, subscribers (of
// ?dest=), sessions}. The ack and transaction scenarios read it to assert
// exactly what the server applied.
//
// Each scenario prints one JSON line, {"scenario":…,"ok":…,"ms":…,…details}
// or {…,"ok":false,"error":…}. Exit status: 0 all passed, 1 a scenario
// failed, 2 bad usage, 3 the overall deadline passed.

import { Versions } from '@stomp/stompjs';

import {
  CLOSE_MS,
  WAIT_MS,
  ackable,
  appId,
  assert,
  assertBytes,
  assertEq,
  barrier,
  configure,
  eventually,
  ledgerMark,
  ledgerSince,
  open,
  publish,
  receipt,
  sleep,
  state,
  subscribe,
  within,
} from './harness.mjs';

const OVERALL_MS = 45000;

const url = process.argv[2];
if (!url || !/^wss?:\/\//.test(url)) {
  console.error('usage: node conformance.mjs ws://HOST:PORT/ws');
  process.exit(2);
}
configure(url);

// ---- scenarios -----------------------------------------------------------

async function connect(scope) {
  const a = await open(scope, 'alice');
  const h = a.connected.headers;
  assertEq(h.version, '1.2', 'CONNECTED version');
  assertEq(h['user-name'], 'alice', 'user-name');
  assertEq(a.stats.protocol, 'v12.stomp', 'subprotocol');
  assert(h.server, 'CONNECTED has no server header');
  assert(h.session, 'CONNECTED has no session header');
  const b = await open(scope, 'bob', { versions: new Versions(['1.1']) });
  assertEq(b.connected.headers.version, '1.1', 'CONNECTED version for a 1.1-only client');
  assertEq(b.stats.protocol, 'v11.stomp', 'subprotocol for a 1.1-only client');
  assert(b.connected.headers.session !== h.session, 'two connections share a session id');
  return {
    server: h.server,
    version: h.version,
    protocol: a.stats.protocol,
    heartBeat: h['heart-beat'],
    sessions: [h.session, b.connected.headers.session],
  };
}

async function heartbeats(scope) {
  let lost = 0;
  // 100 ms both ways. stompjs gives up after 4 silent periods and the
  // server (HeartbeatGrace 4) likewise: tight enough that 1.2 s of
  // idleness without heart-beats kills the connection, loose enough for a
  // loaded CI machine.
  const a = await open(scope, 'alice', {
    heartbeat: 100,
    client: { heartbeatToleranceMultiplier: 4, onHeartbeatLost: () => lost++ },
  });
  assertEq(a.connected.headers['heart-beat'], '100,100', 'CONNECTED heart-beat');
  const sub = await subscribe(a, '/topic/hb');
  const in0 = a.stats.pingsIn;
  a.stats.maxGapIn = 0;
  const out0 = a.stats.pingsOut;
  const idleMs = 1200;
  await sleep(idleMs); // the idleness is what is under test
  const pingsIn = a.stats.pingsIn - in0;
  const pingsOut = a.stats.pingsOut - out0;
  assert(pingsIn >= 6, `server heart-beats in ${idleMs} ms: ${pingsIn}, want >= 6`);
  assert(pingsOut >= 6, `client heart-beats in ${idleMs} ms: ${pingsOut}, want >= 6`);
  assertEq(lost, 0, `heart-beats lost (longest silence ${a.stats.maxGapIn} ms)`);
  assertEq(sub.pending(), 0, 'messages during idleness');
  assert(a.client.connected, 'connection dropped while idle');
  await publish(a, { destination: '/topic/hb', body: 'after idle' });
  assertEq((await sub.next()).body, 'after idle', 'message after idleness');
  return { idleMs, pingsIn, pingsOut, maxGapInMs: a.stats.maxGapIn };
}

async function subscribeSend(scope) {
  const dest = '/topic/room:42'; // ':' is escaped as \c both ways
  const a = await open(scope, 'alice');
  const b = await open(scope, 'bob');
  const sub = await subscribe(a, dest);
  assertEq((await state(dest)).subscribers, 1, 'subscriptions after SUBSCRIBE');
  const r = await publish(b, { destination: dest, body: 'hello', headers: { 'content-type': 'text/plain;charset=utf-8' } });
  const m = await sub.next();
  assertEq(m.headers.destination, dest, 'destination');
  assertEq(m.headers.subscription, sub.id, 'subscription');
  assertEq(m.headers['message-id'], `${r.headers['x-message-id']}.1`, 'message-id');
  assertEq(m.headers.ack, undefined, 'ack header of an ack:auto MESSAGE');
  assertEq(m.headers['x-sender'], 'bob', 'x-sender');
  assertEq(m.headers['content-type'], 'text/plain;charset=utf-8', 'content-type');
  assertEq(m.body, 'hello', 'body');
  const ur = receipt(a);
  sub.sub.unsubscribe({ receipt: ur.id });
  await ur.wait('RECEIPT for UNSUBSCRIBE');
  assertEq((await state(dest)).subscribers, 0, 'subscriptions after UNSUBSCRIBE');
  return {};
}

async function receipts(scope) {
  const a = await open(scope, 'alice');
  const r = await publish(a, { destination: '/topic/r', body: 'one' });
  assert(/^\d+$/.test(r.headers['x-message-id'] ?? ''), `RECEIPT x-message-id ${r.headers['x-message-id']}`);

  // A refused frame's ERROR carries its receipt; the server then closes.
  const b = await open(scope, 'bob');
  const t0 = Date.now();
  b.client.publish({ destination: '/topic/r', body: 'two', headers: { transaction: 'nope', receipt: 'r-bad' } });
  const ef = await within(b.error, WAIT_MS, 'ERROR for a SEND in an unknown transaction');
  assertEq(ef.headers.message, 'unknown transaction', 'ERROR message');
  assertEq(ef.headers['receipt-id'], 'r-bad', 'ERROR receipt-id');
  assertEq(ef.headers['content-type'], 'text/plain', 'ERROR content-type');
  assertEq(ef.body, 'unknown transaction: "nope"', 'ERROR body');
  const ev = await within(b.closed, CLOSE_MS, 'socket closed after ERROR');
  const closeMs = Date.now() - t0;
  assertEq(ev.code, 1000, 'close code after ERROR');
  return { closeMs, closeCode: ev.code };
}

async function ackAuto(scope) {
  const a = await open(scope, 'alice');
  const mark = await ledgerMark();
  const sub = await subscribe(a, '/topic/auto');
  await publish(a, { destination: '/topic/auto', body: 'a' });
  await publish(a, { destination: '/topic/auto', body: 'b' });
  for (const m of await sub.take(2)) {
    assertEq(m.headers.ack, undefined, 'ack header of an ack:auto MESSAGE');
    appId(m);
  }
  await barrier(a);
  assertEq(await ledgerSince(mark), { acked: [], nacked: [] }, 'ledger');
  return { acked: [], nacked: [] };
}

async function ackClient(scope) {
  const dest = '/topic/client';
  const a = await open(scope, 'alice');
  const mark = await ledgerMark();
  const sub = await subscribe(a, dest, { ack: 'client' });
  for (const body of ['m1', 'm2', 'm3']) await publish(a, { destination: dest, body });
  const first = await sub.take(3);
  const ids = ackable(first, sub);
  first[2].ack(); // cumulative: acknowledges all three
  await barrier(a);
  assertEq(await ledgerSince(mark), { acked: ids, nacked: [] }, 'ledger after ACK of the 3rd');

  for (const body of ['m4', 'm5']) await publish(a, { destination: dest, body });
  const second = await sub.take(2);
  const nids = ackable(second, sub);
  second[1].nack(); // cumulative too
  await barrier(a);
  assertEq(await ledgerSince(mark), { acked: ids, nacked: nids }, 'ledger after NACK of the 5th');
  return { acked: ids, nacked: nids };
}

async function ackClientIndividual(scope) {
  const dest = '/topic/individual';
  const a = await open(scope, 'alice');
  const mark = await ledgerMark();
  const sub = await subscribe(a, dest, { ack: 'client-individual' });
  for (const body of ['m1', 'm2', 'm3']) await publish(a, { destination: dest, body });
  const msgs = await sub.take(3);
  const [id1, id2, id3] = ackable(msgs, sub);
  msgs[1].ack();
  await barrier(a);
  assertEq(await ledgerSince(mark), { acked: [id2], nacked: [] }, 'ledger after ACK of the 2nd');
  msgs[0].nack();
  await barrier(a);
  assertEq(await ledgerSince(mark), { acked: [id2], nacked: [id1] }, 'ledger after NACK of the 1st');
  msgs[2].ack();
  await barrier(a);
  assertEq(await ledgerSince(mark), { acked: [id2, id3], nacked: [id1] }, 'ledger after ACK of the 3rd');
  return { acked: [id2, id3], nacked: [id1] };
}

async function transactionSend(scope) {
  const dest = '/topic/tx';
  const a = await open(scope, 'alice');
  const b = await open(scope, 'bob');
  const sub = await subscribe(a, dest);
  const order = [];
  const next = async () => {
    const body = (await sub.next()).body;
    order.push(body);
    return body;
  };

  const tx = b.client.begin();
  b.client.publish({ destination: dest, body: 'a', headers: { transaction: tx.id } });
  b.client.publish({ destination: dest, body: 'b', headers: { transaction: tx.id } });
  // bob's frames are handled in order: had the transaction leaked, "a"
  // would reach alice before the marker.
  await publish(b, { destination: dest, body: 'marker 1' });
  assertEq(await next(), 'marker 1', 'first message after SENDs in an open transaction');
  tx.commit();
  await publish(b, { destination: dest, body: 'marker 2' });
  assertEq([await next(), await next(), await next()], ['a', 'b', 'marker 2'], 'messages after COMMIT');

  const tx2 = b.client.begin();
  b.client.publish({ destination: dest, body: 'aborted', headers: { transaction: tx2.id } });
  tx2.abort();
  await publish(b, { destination: dest, body: 'marker 3' });
  assertEq(await next(), 'marker 3', 'first message after ABORT');
  assertEq(sub.pending(), 0, 'messages left after ABORT');
  return { order };
}

async function transactionAck(scope) {
  const dest = '/topic/txack';
  const a = await open(scope, 'alice');
  const mark = await ledgerMark();
  const sub = await subscribe(a, dest, { ack: 'client-individual' });
  await publish(a, { destination: dest, body: 'm1' });
  await publish(a, { destination: dest, body: 'm2' });
  const msgs = await sub.take(2);
  const [id1, id2] = ackable(msgs, sub);

  const tx = a.client.begin();
  msgs[0].ack({ transaction: tx.id });
  await barrier(a);
  assertEq(await ledgerSince(mark), { acked: [], nacked: [] }, 'ledger before COMMIT');
  tx.commit();
  await barrier(a);
  assertEq(await ledgerSince(mark), { acked: [id1], nacked: [] }, 'ledger after COMMIT');

  const tx2 = a.client.begin();
  msgs[1].nack({ transaction: tx2.id });
  tx2.abort();
  await barrier(a);
  assertEq(await ledgerSince(mark), { acked: [id1], nacked: [] }, 'ledger after ABORT');
  msgs[1].ack(); // the aborted NACK left it pending
  await barrier(a);
  assertEq(await ledgerSince(mark), { acked: [id1, id2], nacked: [] }, 'ledger after ACK');
  return { acked: [id1, id2], nacked: [] };
}

async function binaryBody(scope) {
  const dest = '/topic/bin';
  const a = await open(scope, 'alice');
  const sub = await subscribe(a, dest);
  const every = Uint8Array.from({ length: 512 }, (_, i) => i & 0xff); // NULs, not UTF-8
  await publish(a, { destination: dest, binaryBody: every, headers: { 'content-type': 'application/octet-stream' } });
  const m = await sub.next();
  assertBytes(m.binaryBody, every, 'binary body');
  assertEq(m.headers['content-length'], '512', 'content-length');
  assertEq(m.headers['content-type'], 'application/octet-stream', 'content-type');

  const text = 'a\u0000b\u0000\u0000é'; // UTF-8 with NULs: a text message
  await publish(a, { destination: dest, body: text });
  assertEq((await sub.next()).body, text, 'text body with NULs');
  return {};
}

async function largeBody(scope) {
  const dest = '/topic/big';
  const chunk = 64 * 1024;
  const a = await open(scope, 'alice', { client: { splitLargeFrames: true, maxWebSocketChunkSize: chunk } });
  const sub = await subscribe(a, dest);

  const big = new Uint8Array(1 << 20);
  let x = 0x9e3779b9;
  for (let i = 0; i < big.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    big[i] = x & 0xff;
  }
  await publish(a, { destination: dest, binaryBody: big });
  assertBytes((await sub.next()).binaryBody, big, '1 MiB binary body');

  // stompjs splits a large text frame into 64 KiB WebSocket messages.
  const text = '0123456789abcdef'.repeat((1 << 20) / 16);
  const sent0 = a.stats.sent;
  await publish(a, { destination: dest, body: text });
  const messages = a.stats.sent - sent0;
  assert(messages >= (1 << 20) / chunk, `1 MiB text frame went out in ${messages} messages, want it split`);
  const m = await sub.next();
  assertEq(m.body.length, text.length, '1 MiB text body length');
  assert(m.body === text, '1 MiB text body differs');
  return { textMessages: messages };
}

async function disconnect(scope) {
  const dest = '/topic/bye';
  const a = await open(scope, 'alice');
  await subscribe(a, dest, { ack: 'client' });
  let receiptFrame;
  a.client.onDisconnect = (frame) => (receiptFrame = frame);
  const t0 = Date.now();
  await within(a.client.deactivate(), CLOSE_MS, 'deactivate (DISCONNECT, RECEIPT, close)');
  const deactivateMs = Date.now() - t0;
  const ev = await a.closed;
  assert(receiptFrame, 'no RECEIPT for DISCONNECT');
  assert(/^close-/.test(receiptFrame.headers['receipt-id']), `receipt-id ${receiptFrame.headers['receipt-id']}`);
  assertEq(ev.code, 1000, 'close code');
  await eventually(async () => (await state(dest)).subscribers === 0, 'the session\'s subscriptions end');
  return { deactivateMs, closeCode: ev.code };
}

async function forceDisconnect(scope) {
  // deactivate({force: true}) drops the socket with no DISCONNECT and no
  // close handshake, as a phone losing its network: the server must still
  // end the session.
  const dest = '/topic/gone';
  const a = await open(scope, 'alice');
  await subscribe(a, dest, { ack: 'client-individual' });
  await within(a.client.deactivate({ force: true }), CLOSE_MS, 'deactivate({force: true})');
  await eventually(async () => (await state(dest)).subscribers === 0, 'the dropped session\'s subscriptions end');
  return {};
}

const scenarios = [
  ['connect', connect],
  ['heart-beats', heartbeats],
  ['subscribe-send-unsubscribe', subscribeSend],
  ['receipts', receipts],
  ['ack-auto', ackAuto],
  ['ack-client', ackClient],
  ['ack-client-individual', ackClientIndividual],
  ['transaction-send', transactionSend],
  ['transaction-ack', transactionAck],
  ['binary-body-nul', binaryBody],
  ['body-1MiB', largeBody],
  ['disconnect-receipt', disconnect],
  ['force-disconnect', forceDisconnect],
];

// ---- run -----------------------------------------------------------------

function emit(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
}

const overall = setTimeout(() => {
  emit({ scenario: '*', ok: false, error: `overall deadline of ${OVERALL_MS} ms passed` });
  process.exit(3);
}, OVERALL_MS);

process.on('unhandledRejection', (err) => {
  emit({ scenario: '*', ok: false, error: `unhandled rejection: ${err?.stack ?? err}` });
  process.exit(1);
});

let failed = 0;
for (const [name, run] of scenarios) {
  const scope = { clients: [] };
  const t0 = Date.now();
  try {
    const details = await run(scope);
    emit({ scenario: name, ok: true, ms: Date.now() - t0, ...details });
  } catch (err) {
    failed++;
    emit({ scenario: name, ok: false, ms: Date.now() - t0, error: err?.message ?? String(err) });
    console.error(`${name}: ${err?.stack ?? err}`);
  } finally {
    const closing = scope.clients.map((p) => within(p.client.deactivate(), WAIT_MS, `deactivate ${p.user}`));
    for (const r of await Promise.allSettled(closing)) {
      if (r.status === 'rejected') console.error(`${name}: cleanup: ${r.reason}`);
    }
  }
}
clearTimeout(overall);
process.exit(failed ? 1 : 0);
