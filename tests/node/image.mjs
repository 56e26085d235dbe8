// Image messages through a real rcpd node with @stomp/stompjs 7 under node
// 20 (the `ws` package). cmd/rcpd/e2e_image_test.go runs it:
//
//   node tests/node/image.mjs <config file>
//
// The config (a file: a large image's base64 is over the 128 KiB Linux
// allows one argument) is JSON:
//   {url: "ws://HOST:PORT/ws", room: "r1", alice: "<JWT>", bob: "<JWT>",
//    images: [{name, contentType, data: "<base64>", clientId}]}
//
// bob CONNECTs, SUBSCRIBEs to /topic/rooms/<room> (ack client-individual,
// receipted) and ACKs every MESSAGE. alice CONNECTs and publishes each
// image as {"type":"image","image":{data, contentType, name}} with a
// receipt and its x-client-id, pipelined. Once bob has a MESSAGE per image,
// he UNSUBSCRIBEs with a receipt (so the server has his ACKs) and both
// disconnect.
//
// Prints one JSON line:
//   {"ok":true,"receipts":[{name,id,seq}],
//    "received":[{id,seq,sender,room,contentType,body}]}
// (body is the MESSAGE body as stompjs gives it) or {"ok":false,"error":…};
// the Go test checks the images. Exit status: 0 done, 1 failed, 2 bad
// usage, 3 the overall deadline passed.

import { readFileSync } from 'node:fs';
import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';

// node 20 has no global WebSocket; stompjs expects one.
Object.assign(globalThis, { WebSocket });

const WAIT_MS = 10000; // any one wait for the server
const OVERALL_MS = 50000;

let config;
try {
  config = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8'));
} catch (err) {
  console.error(`usage: node image.mjs <config file> (${err})`);
  process.exit(2);
}

function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// open connects and resolves once CONNECTED arrived; an ERROR frame or a
// closed socket at any time fails the run.
let failRun;
const failed = new Promise((_, reject) => (failRun = reject));
failed.catch(() => {});

async function open(name, token) {
  let client;
  const connected = new Promise((resolve, reject) => {
    client = new Client({
      webSocketFactory: () => new WebSocket(config.url, ['v12.stomp', 'v11.stomp', 'v10.stomp']),
      connectHeaders: { Authorization: `Bearer ${token}` },
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      reconnectDelay: 0,
      debug: () => {},
      onConnect: resolve,
      onStompError: (frame) => {
        const err = new Error(`${name}: ERROR ${frame.headers.message}: ${frame.body}`);
        reject(err);
        failRun(err);
      },
      onWebSocketClose: (ev) => {
        if (client.closing) return;
        const err = new Error(`${name}: socket closed (${ev.code})`);
        reject(err);
        failRun(err);
      },
    });
  });
  client.activate();
  await within(Promise.race([connected, failed]), WAIT_MS, `CONNECT ${name}`);
  return client;
}

let receiptSeq = 0;

// receipt registers a watcher before the frame that asks for it is sent.
function receipt(client) {
  const id = `r-${++receiptSeq}`;
  const got = new Promise((resolve) => client.watchForReceipt(id, resolve));
  return { id, got: Promise.race([got, failed]) };
}

async function close(client, name) {
  client.closing = true;
  await within(client.deactivate(), WAIT_MS, `DISCONNECT of ${name}`);
}

async function main() {
  const n = config.images.length;
  const bob = await open('bob', config.bob);
  const received = [];
  let allIn;
  const complete = new Promise((resolve) => (allIn = resolve));
  const sub = receipt(bob);
  const subscription = bob.subscribe(
    `/topic/rooms/${config.room}`,
    (msg) => {
      const h = msg.headers;
      received.push({
        id: h['x-stream-id'],
        seq: h['x-seq'],
        sender: h['x-sender'],
        room: h['x-room'],
        contentType: h['content-type'],
        body: msg.body,
      });
      msg.ack();
      if (received.length === n) allIn();
    },
    { ack: 'client-individual', receipt: sub.id },
  );
  await within(sub.got, WAIT_MS, 'RECEIPT for SUBSCRIBE of bob');

  const alice = await open('alice', config.alice);
  const pending = config.images.map((img) => {
    const r = receipt(alice);
    alice.publish({
      destination: `/app/rooms/${config.room}`,
      body: JSON.stringify({
        type: 'image',
        image: { data: img.data, contentType: img.contentType, name: img.name },
      }),
      headers: { 'content-type': 'application/json', 'x-client-id': img.clientId, receipt: r.id },
    });
    return r.got.then((f) => ({ name: img.name, id: f.headers['x-stream-id'], seq: f.headers['x-seq'] }));
  });
  const receipts = await within(Promise.all(pending), WAIT_MS, 'RECEIPTs of alice');

  await within(Promise.race([complete, failed]), WAIT_MS, `all images at bob (got ${received.length})`);
  const unsub = receipt(bob);
  subscription.unsubscribe({ receipt: unsub.id });
  await within(unsub.got, WAIT_MS, 'RECEIPT for UNSUBSCRIBE of bob');
  await close(alice, 'alice');
  await close(bob, 'bob');
  return { ok: true, receipts, received };
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
