// The official `openai` npm package against the api process: chat
// (stream and not), completions (stream and not), embeddings (the SDK
// asks for base64 and decodes it), speech, transcription, and the SDK's
// typed errors for an unknown model and a wrong key.  The api runs with
// its router played by tests/integration/api_dataplane ("serve") and the
// fake backend behind it.
//
//	node openai_sdk.js BASE_URL API_KEY WAVFILE
'use strict';
const fs = require('fs');
const assert = require('assert');
const { OpenAI } = require('openai');

const [base, key, wav] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + '/v1', apiKey: key, maxRetries: 0 });
const want = 't0 t1 t2 t3 t4 ';

async function chat() {
  const r = await client.chat.completions.create({
    model: 'fake',
    messages: [{ role: 'system', content: 'be brief' },
      { role: 'user', content: 'count' }],
    temperature: 0.2, max_tokens: 100,
  });
  assert.strictEqual(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.strictEqual(r.choices[0].message.role, 'assistant');
  assert.strictEqual(r.choices[0].message.content, want);
  assert.strictEqual(r.choices[0].finish_reason, 'stop');
  assert.strictEqual(r.usage.completion_tokens, 5);
  assert.ok(r.usage.prompt_tokens > 0);
}

async function chatStream() {
  const s = await client.chat.completions.create({
    model: 'fake', messages: [{ role: 'user', content: 'count' }],
    stream: true, stream_options: { include_usage: true },
  });
  let text = '', role = null, finish = null, usage = null, n = 0;
  for await (const c of s) {
    n++;
    assert.strictEqual(c.object, 'chat.completion.chunk');
    if (c.usage) usage = c.usage;
    if (c.choices.length === 0) continue;
    const d = c.choices[0].delta;
    if (d.role && role === null) role = d.role;
    if (d.content) text += d.content;
    if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
  }
  assert.strictEqual(role, 'assistant');
  assert.strictEqual(text, want);
  assert.strictEqual(finish, 'stop');
  assert.strictEqual(usage.completion_tokens, 5);
  assert.ok(n >= 7, `${n} chunks`);
}

async function completions() {
  const r = await client.completions.create({ model: 'fake', prompt: 'once' });
  assert.strictEqual(r.object, 'text_completion');
  assert.strictEqual(r.choices[0].text, want);
  const s = await client.completions.create({
    model: 'fake', prompt: 'once', stream: true,
  });
  let text = '';
  for await (const c of s) text += c.choices.length ? c.choices[0].text : '';
  assert.strictEqual(text, want);
}

async function embeddings() {
  const r = await client.embeddings.create({ model: 'fake', input: ['a b', 'c'] });
  assert.strictEqual(r.object, 'list');
  assert.strictEqual(r.data.length, 2);
  assert.strictEqual(r.data[1].index, 1);
  assert.strictEqual(r.data[0].embedding.length, 8);
  assert.ok(r.data[0].embedding.every((x) => typeof x === 'number' && x >= -1 && x <= 1));
  const f = await client.embeddings.create({
    model: 'fake', input: 'a b', encoding_format: 'float',
  });
  for (let i = 0; i < 8; i++)
    assert.ok(Math.abs(f.data[0].embedding[i] - r.data[0].embedding[i]) < 1e-6);
}

async function speech() {
  const r = await client.audio.speech.create({
    model: 'fake', voice: 'alloy', input: 'hello world', response_format: 'wav',
  });
  assert.strictEqual(r.headers.get('content-type'), 'audio/wav');
  const b = Buffer.from(await r.arrayBuffer());
  assert.strictEqual(b.subarray(0, 4).toString(), 'RIFF');
  assert.strictEqual(b.subarray(8, 12).toString(), 'WAVE');
  fs.writeFileSync(wav, b);
}

async function transcription() {
  const size = fs.statSync(wav).size;
  const r = await client.audio.transcriptions.create({
    model: 'fake', file: fs.createReadStream(wav),
  });
  assert.strictEqual(r.text, `fake transcript of ${size} bytes`);
  const v = await client.audio.transcriptions.create({
    model: 'fake', file: fs.createReadStream(wav), response_format: 'verbose_json',
  });
  assert.strictEqual(v.text, r.text);
  assert.ok(Array.isArray(v.segments) && v.segments.length === 1);
  const t = await client.audio.transcriptions.create({
    model: 'fake', file: fs.createReadStream(wav), response_format: 'text',
  });
  assert.strictEqual(String(t).trim(), r.text);
}

async function errors() {
  await assert.rejects(client.chat.completions.create({
    model: 'nosuch', messages: [{ role: 'user', content: 'x' }],
  }), (e) => e instanceof OpenAI.NotFoundError && e.status === 404 &&
    e.code === 'model_not_found');
  const bad = new OpenAI({ baseURL: base + '/v1', apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(bad.models.list(),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  await assert.rejects(client.chat.completions.create({
    model: 'fake', messages: 'nope',
  }), (e) => e instanceof OpenAI.BadRequestError && e.status === 400);
  const models = await client.models.list();
  assert.deepStrictEqual(models.data.map((m) => m.id), ['fake', 'tok', 'cont']);
}

(async () => {
  for (const [name, fn] of Object.entries({ chat, chatStream, completions,
    embeddings, speech, transcription, errors })) {
    await fn();
    console.log(`ok ${name}`);
  }
})().catch((e) => { console.error('FAIL', e); process.exit(1); });
