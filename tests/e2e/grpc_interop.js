// Interoperability of our backend gRPC server with an independent gRPC
// implementation: Node's @grpc/grpc-js loading proto/backend.proto with
// @grpc/proto-loader calls our backends and checks the answers.
//
//   node grpc_interop.js BUILD_DIR
//
// Each backend runs as a child process on a Unix socket and on TCP.  To
// cover another backend, add an entry to `backends` below with its checks.
'use strict';

const assert = require('assert');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const top = path.resolve(__dirname, '..', '..');
const build = path.resolve(top, process.argv[2] || 'build');
const TOKEN = 'interop-token';

const pkgDef = protoLoader.loadSync(path.join(top, 'proto', 'backend.proto'), {
  keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
});
const Backend = grpc.loadPackageDefinition(pkgDef).backend.Backend;

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// Promisified unary call with the bearer token and a deadline.
function unary(client, method, req, opts = {}) {
  const md = new grpc.Metadata();
  if (opts.token !== null) md.set('authorization', `Bearer ${opts.token || TOKEN}`);
  const deadline = Date.now() + (opts.timeoutMs || 5000);
  return new Promise((resolve, reject) => {
    client[method](req, md, { deadline }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

// Read a whole server stream; resolves to {messages, error}.
function readStream(client, req, opts = {}) {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${TOKEN}`);
  const deadline = Date.now() + (opts.timeoutMs || 10000);
  const call = client.PredictStream(req, md, { deadline });
  const messages = [];
  return new Promise((resolve) => {
    call.on('data', (m) => {
      messages.push(m);
      if (opts.cancelAfter && messages.length === opts.cancelAfter) call.cancel();
    });
    call.on('error', (error) => resolve({ messages, error }));
    call.on('end', () => resolve({ messages, error: null }));
  });
}

// Start a backend; resolves to {proc, addr, dir, events} once Health answers.
async function startBackend(bin, tcp, env) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grpc_interop.'));
  const events = path.join(dir, 'events');
  const portFile = path.join(dir, 'port');
  const listen = tcp ? '127.0.0.1:0' : `unix:${path.join(dir, 'be.sock')}`;
  const log = fs.openSync(path.join(dir, 'server.log'), 'a');
  const proc = spawn(bin, ['--addr', listen, '--port-file', portFile], {
    env: { ...process.env, LOCALAI_GRPC_AUTH_TOKEN: TOKEN, FAKE_BACKEND_EVENTS: events, ...env },
    stdio: ['ignore', 'ignore', log],
  });
  const exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve({ code, sig })));
  for (let i = 0; i < 500 && !fs.existsSync(portFile); i++) await sleep(10);
  const port = parseInt(fs.readFileSync(portFile, 'utf8'), 10);
  const addr = tcp ? `127.0.0.1:${port}` : listen;
  const client = new Backend(addr, grpc.credentials.createInsecure());
  await new Promise((resolve, reject) => client.waitForReady(Date.now() + 10000,
    (err) => (err ? reject(err) : resolve())));
  return { proc, addr, dir, events, client, exited };
}

async function stopBackend(b) {
  b.client.close();
  b.proc.kill('SIGTERM');
  const { code, sig } = await b.exited;
  assert.strictEqual(code, 0, `backend exit code ${code} signal ${sig}`);
  fs.rmSync(b.dir, { recursive: true, force: true });
}

// The fake backend: every RPC the runtime serves, errors, cancel, deadline.
async function checkFake(b) {
  const health = await unary(b.client, 'Health', {});
  assert.strictEqual(health.message.toString(), 'OK');

  let err = await unary(b.client, 'Health', {}, { token: null }).catch((e) => e);
  assert.strictEqual(err.code, grpc.status.UNAUTHENTICATED, 'no token');
  err = await unary(b.client, 'Health', {}, { token: 'wrong' }).catch((e) => e);
  assert.strictEqual(err.code, grpc.status.UNAUTHENTICATED, 'wrong token');

  let st = await unary(b.client, 'Status', {});
  assert.strictEqual(st.state, 'UNINITIALIZED');
  assert.ok(st.memory.total > 1024 * 1024, 'memory reported');

  const res = await unary(b.client, 'LoadModel', { Model: 'm', Options: ['tokens=3', 'rate_ms=5'] });
  assert.deepStrictEqual([res.success, res.message], [true, 'fake model loaded']);
  st = await unary(b.client, 'Status', {});
  assert.strictEqual(st.state, 'READY');

  const { messages, error } = await readStream(b.client, { Prompt: 'hi there' });
  assert.strictEqual(error, null, `stream error ${error}`);
  assert.deepStrictEqual(messages.map((m) => m.message.toString()), ['t0 ', 't1 ', 't2 ']);
  assert.strictEqual(messages[0].prompt_tokens, 2);

  const reply = await unary(b.client, 'Predict', { Prompt: 'x' });
  assert.strictEqual(reply.message.toString(), 't0 t1 t2 ');
  const emb = await unary(b.client, 'Embedding', { Prompt: 'x' });
  assert.strictEqual(emb.embeddings.length, 8);
  const tok = await unary(b.client, 'TokenizeString', { Prompt: 'a b c d' });
  assert.strictEqual(tok.length, 4);

  const wav = path.join(b.dir, 'speech.wav');
  const tts = await unary(b.client, 'TTS', { text: 'hello world', dst: wav, voice: 'x', language: 'en' });
  assert.strictEqual(tts.success, true);
  const head = fs.readFileSync(wav);
  assert.strictEqual(head.subarray(0, 4).toString(), 'RIFF');
  assert.strictEqual(head.subarray(8, 12).toString(), 'WAVE');
  const tr = await unary(b.client, 'AudioTranscription', { dst: wav });
  assert.strictEqual(tr.text, `fake transcript of ${head.length} bytes`);
  assert.strictEqual(tr.segments.length, 1);

  err = await unary(b.client, 'Rerank', { query: 'q' }).catch((e) => e);
  assert.strictEqual(err.code, grpc.status.UNIMPLEMENTED, 'Rerank');
  err = await unary(b.client, 'TTS', { text: 'x', dst: '' }).catch((e) => e);
  assert.strictEqual(err.code, grpc.status.INVALID_ARGUMENT, 'TTS without dst');

  // Cancellation and deadline from the Node side reach the backend.
  await unary(b.client, 'LoadModel', { Model: 'm', Options: ['tokens=100000', 'rate_ms=5'] });
  const c = await readStream(b.client, { Prompt: 'p' }, { cancelAfter: 3 });
  assert.strictEqual(c.error.code, grpc.status.CANCELLED);
  const d = await readStream(b.client, { Prompt: 'p' }, { timeoutMs: 300 });
  assert.strictEqual(d.error.code, grpc.status.DEADLINE_EXCEEDED);
  for (let i = 0; i < 300; i++) {
    const ev = fs.existsSync(b.events) ? fs.readFileSync(b.events, 'utf8') : '';
    if ((ev.match(/stream cancelled/g) || []).length >= 2) break;
    await sleep(10);
  }
  const ev = fs.readFileSync(b.events, 'utf8');
  assert.strictEqual((ev.match(/stream cancelled/g) || []).length, 2, `backend events: ${ev}`);
  const free = await unary(b.client, 'Free', {});
  assert.strictEqual(free.success, true);
}

// A canonical 44-byte PCM WAV header, written here independently of our C
// writer so the backends are checked against another implementation.
function wavHeader(rate, channels, bits, dataBytes) {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + dataBytes, 4); h.write('WAVE', 8);
  h.write('fmt ', 12); h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22); h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * channels * bits / 8, 28);
  h.writeUInt16LE(channels * bits / 8, 32); h.writeUInt16LE(bits, 34);
  h.write('data', 36); h.writeUInt32LE(dataBytes, 40);
  return h;
}

// The espeak backend: LoadModel with a voice, TTS to a WAV file (also with
// the proto3 optional language field set), unknown voice.
async function checkEspeak(b) {
  const health = await unary(b.client, 'Health', {});
  assert.strictEqual(health.message.toString(), 'OK');
  const res = await unary(b.client, 'LoadModel', { Model: 'en-us' });
  assert.strictEqual(res.success, true);
  assert.match(res.message, /en-us/);
  const wav = path.join(b.dir, 'speech.wav');
  const tts = await unary(b.client, 'TTS', { text: 'hello from node', dst: wav });
  assert.strictEqual(tts.success, true);
  const f = fs.readFileSync(wav);
  assert.strictEqual(f.subarray(0, 4).toString(), 'RIFF');
  assert.strictEqual(f.subarray(8, 12).toString(), 'WAVE');
  assert.deepStrictEqual([f.readUInt16LE(20), f.readUInt16LE(22), f.readUInt32LE(24),
    f.readUInt16LE(34)], [1, 1, 22050, 16], 'PCM, mono, 22050 Hz, 16 bit');
  assert.strictEqual(f.readUInt32LE(40), f.length - 44, 'data size');
  assert.ok(f.length - 44 > 22050, 'more than half a second of audio');
  const de = await unary(b.client, 'TTS', { text: 'guten tag', dst: wav, language: 'de' });
  assert.strictEqual(de.success, true);
  const err = await unary(b.client, 'TTS', { text: 'x', dst: wav, voice: 'no-such' }).catch((e) => e);
  assert.strictEqual(err.code, grpc.status.INVALID_ARGUMENT, 'unknown voice');
  assert.match(err.details, /unknown voice 'no-such'/);
}

// The pocketsphinx backend on a real recording wrapped in a WAV header
// written here; segment times are nanoseconds.
async function checkPocketsphinx(b) {
  const res = await unary(b.client, 'LoadModel', {}, { timeoutMs: 60000 });
  assert.strictEqual(res.success, true);
  const raw = fs.readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');
  const wav = path.join(b.dir, 'goforward.wav');
  fs.writeFileSync(wav, Buffer.concat([wavHeader(16000, 1, 16, raw.length), raw]));
  const tr = await unary(b.client, 'AudioTranscription', { dst: wav }, { timeoutMs: 60000 });
  assert.match(tr.text, /forward/);
  assert.ok(tr.segments.length >= 1, 'segments');
  const s = tr.segments[0];
  assert.ok(s.start > 2e8 && s.start < 9e8 && s.end > s.start && s.end <= 2.79e9,
    `segment 0 from ${s.start} to ${s.end} ns`);
  let err = await unary(b.client, 'AudioTranscription', { dst: path.join(b.dir, 'none.wav') })
    .catch((e) => e);
  assert.strictEqual(err.code, grpc.status.NOT_FOUND, 'missing file');
  err = await unary(b.client, 'AudioTranscription', { dst: __filename }).catch((e) => e);
  assert.strictEqual(err.code, grpc.status.INVALID_ARGUMENT, 'not audio');
}

const backends = [
  { name: 'fakebackend', bin: path.join(build, 'tests', 'fakes', 'fakebackend'), env: {}, check: checkFake },
  { name: 'espeak', bin: path.join(build, 'backends', 'espeak', 'run'), env: {}, check: checkEspeak },
  { name: 'pocketsphinx', bin: path.join(build, 'backends', 'pocketsphinx', 'run'), env: {}, check: checkPocketsphinx },
];

async function main() {
  for (const be of backends) {
    for (const tcp of [false, true]) {
      const label = `${be.name} over ${tcp ? 'TCP' : 'a Unix socket'}`;
      const b = await startBackend(be.bin, tcp, be.env);
      try {
        await be.check(b);
      } catch (e) {
        const log = path.join(b.dir, 'server.log');
        if (fs.existsSync(log)) process.stderr.write(fs.readFileSync(log, 'utf8'));
        b.proc.kill('SIGKILL');
        throw new Error(`${label}: ${e.stack}`);
      }
      await stopBackend(b);
      console.log(`ok ${label}`);
    }
  }
}

main().catch((e) => {
  console.error(`FAIL ${e.message}`);
  process.exit(1);
});
