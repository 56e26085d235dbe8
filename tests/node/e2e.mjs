// End-to-end exchange through real rcpd nodes with @stomp/stompjs 7 under
// node 20 (the `ws` package). cmd/rcpd/e2e_stompjs_test.go runs it:
//
//   node tests/node/e2e.mjs '<config JSON>'
//
// config: {
//   room: "r1", count: 30,
//   devices: [{name, user, url, token, send}],   // url: ws://HOST:PORT/ws
//   refused: [{name, url, token}]                 // CONNECTs that must fail
// }
//
// Every device CONNECTs with `Authorization: Bearer <token>`, SUBSCRIBEs to
// /topic/rooms/<room> (ack client-individual, receipted) and ACKs every
// MESSAGE. Then each device with `send` publishes `count` messages
// "<name>-<i>", pipelined, each with a receipt. Once a device has received
// every message of every sender, it UNSUBSCRIBEs with a receipt (so the
// server has handled its ACKs) and disconnects.
//
// Prints one JSON line:
//   {"ok":true,"ms":…,"devices":{name:{"receipts":[{text,id,seq}],
//    "received":[{id,seq,prev,sender,room,text}]}},
//    "refused":{name:{"message":…,"body":…}}}
// or {"ok":false,"error":…}. The Go test asserts on the lists. Exit status:
// 0 done, 1 failed, 2 bad usage, 3 the overall deadline passed.

import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';

// node 20 has no global WebSocket; stompjs expects one.
Object.assign(globalThis, { WebSocket });

const WAIT_MS = 10000; // any one wait for the server
const OVERALL_MS = 50000;

let config;
try {
  config = JSON.parse(process.argv[2] ?? '');
} catch {
  console.error("usage: node e2e.mjs '{\"room\":…,\"count\":…,\"devices\":[…]}'");
  process.exit(2);
}

function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// open connects and resolves once CONNECTED arrived; it rejects on ERROR
// or a closed socket. The promise `refusal` resolves with the ERROR frame.
function open(url, token, name) {
  let onRefused;
  const refusal = new Promise((resolve) => (onRefused = resolve));
  let client;
  const connected = new Promise((resolve, reject) => {
    client = new Client({
      webSocketFactory: () => new WebSocket(url, ['v12.stomp', 'v11.stomp', 'v10.stomp']),
      connectHeaders: { Authorization: `Bearer ${token}` },
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      reconnectDelay: 0,
      debug: () => {},
      onConnect: resolve,
      onStompError: (frame) => {
        onRefused(frame);
        reject(new Error(`${name}: ERROR ${frame.headers.message}: ${frame.body}`));
      },
      onWebSocketClose: (ev) => reject(new Error(`${name}: socket closed (${ev.code})`)),
    });
  });
  client.activate();
  return { client, connected: within(connected, WAIT_MS, `CONNECT ${name}`), refusal };
}

let receiptSeq = 0;

// receipt registers a watcher before the frame that asks for it is sent.
function receipt(client) {
  const id = `r-${++receiptSeq}`;
  const got = new Promise((resolve) => client.watchForReceipt(id, resolve));
  return { id, got };
}

async function device(d, expected) {
  const { client, connected } = open(d.url, d.token, d.name);
  await connected;
  const out = { receipts: [], received: [] };
  let allIn;
  const complete = new Promise((resolve) => (allIn = resolve));
  const sub = receipt(client);
  const subscription = client.subscribe(
    `/topic/rooms/${config.room}`,
    (msg) => {
      const h = msg.headers;
      const body = JSON.parse(msg.body);
      out.received.push({
        id: h['x-stream-id'],
        seq: h['x-seq'],
        prev: h['x-prev-id'] ?? '',
        sender: h['x-sender'],
        room: h['x-room'],
        text: body.text,
      });
      msg.ack();
      if (out.received.length === expected) allIn();
    },
    { ack: 'client-individual', receipt: sub.id },
  );
  await within(sub.got, WAIT_MS, `RECEIPT for SUBSCRIBE of ${d.name}`);
  return { d, client, out, subscription, complete };
}

async function publishAll(dev) {
  const pending = [];
  for (let i = 0; i < config.count; i++) {
    const text = `${dev.d.name}-${i}`;
    const r = receipt(dev.client);
    dev.client.publish({
      destination: `/app/rooms/${config.room}`,
      body: JSON.stringify({ type: 'text', text }),
      headers: { 'content-type': 'application/json', receipt: r.id },
    });
    pending.push(r.got.then((f) => ({ text, id: f.headers['x-stream-id'], seq: f.headers['x-seq'] })));
  }
  dev.out.receipts = await within(Promise.all(pending), WAIT_MS, `RECEIPTs of ${dev.d.name}`);
}

async function finish(dev) {
  await within(dev.complete, WAIT_MS, `all messages at ${dev.d.name} (got ${dev.out.received.length})`);
  const r = receipt(dev.client);
  dev.subscription.unsubscribe({ receipt: r.id });
  await within(r.got, WAIT_MS, `RECEIPT for UNSUBSCRIBE of ${dev.d.name}`);
  await within(dev.client.deactivate(), WAIT_MS, `DISCONNECT of ${dev.d.name}`);
}

async function refused(r) {
  const { client, connected, refusal } = open(r.url, r.token, r.name);
  connected.catch(() => {});
  const frame = await within(refusal, WAIT_MS, `ERROR for ${r.name}`);
  await client.deactivate();
  return { message: frame.headers.message, body: frame.body };
}

async function main() {
  const t0 = Date.now();
  const senders = config.devices.filter((d) => d.send).length;
  const devs = await Promise.all(config.devices.map((d) => device(d, senders * config.count)));
  await Promise.all(devs.filter((dev) => dev.d.send).map(publishAll));
  await Promise.all(devs.map(finish));
  const result = { ok: true, devices: {}, refused: {} };
  for (const dev of devs) result.devices[dev.d.name] = dev.out;
  for (const r of config.refused ?? []) result.refused[r.name] = await refused(r);
  result.ms = Date.now() - t0;
  return result;
}

const overall = setTimeout(() => {
  console.log(JSON.stringify({ ok: false, error: `overall deadline of ${OVERALL_MS} ms passed` }));
  process.exit(3);
}, OVERALL_MS);

try {
  console.log(JSON.stringify(await main()));
  clearTimeout(overall);
  process.exit(0);
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: String(err?.stack ?? err) }));
  process.exit(1);
}
