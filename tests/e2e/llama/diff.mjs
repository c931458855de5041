// Runs each model through llama.cpp and compares with our engine's output
// (JSON files written by build/tests/tools/llama_probe).
//   node diff.mjs PROMPT CASE.json...   where CASE.json = {model, probe}
// For each case: prompt token ids must be identical; llama.cpp then
// evaluates the same prompt ids and decodes greedily; generated ids and
// text must be identical (a step whose top-two logits are closer than
// the measured difference may differ: a near tie, reported); every step's
// logits must be close (max |diff| / RMS(logits) under the tolerance).
import {getLlama} from "node-llama-cpp";
import {readFileSync} from "node:fs";

const [prompt, ...cases] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
let failed = 0;

function compareLogits(ours, theirs) {
  let ms = 0, md = 0;
  for (let i = 0; i < ours.length; i++) {
    ms += theirs[i] * theirs[i];
    md = Math.max(md, Math.abs(ours[i] - theirs[i]));
  }
  const rms = Math.sqrt(ms / ours.length);
  return {rel: md / rms, abs: md};
}

function top2gap(l) {
  let a = -Infinity, b = -Infinity;
  for (const v of l) { if (v > a) { b = a; a = v; } else if (v > b) b = v; }
  return a - b;
}

for (const path of cases) {
  const c = JSON.parse(readFileSync(path, "utf8"));
  const probe = JSON.parse(readFileSync(c.probe, "utf8"));
  const model = await llama.loadModel({modelPath: c.model, gpuLayers: 0});
  const ctx = await model.createContext({contextSize: 512, batchSize: 512, threads: 1, flashAttention: false});
  const seq = ctx.getSequence();
  const nv = probe.logits[0].length;
  let toks = Array.from(model.tokenize(prompt, true));
  if (model.tokens.shouldPrependBosToken && model.tokens.bos != null)
    toks = [model.tokens.bos, ...toks];
  const msgs = [];
  if (JSON.stringify(toks) !== JSON.stringify(probe.prompt_tokens))
    msgs.push(`prompt tokens differ:\n  llama.cpp ${JSON.stringify(toks)}\n  ours      ${JSON.stringify(probe.prompt_tokens)}`);
  let input = probe.prompt_tokens.map((t, i) =>
    i === probe.prompt_tokens.length - 1 ? [t, {generateNext: {logits: true}}] : t);
  let worst = 0, ties = 0;
  const gen = [];
  for (let step = 0; step < probe.gen.length; step++) {
    const res = await seq.controlledEvaluate(input);
    const lg = res[input.length - 1].next.logits;
    const theirs = new Float64Array(nv);
    for (const [k, v] of lg) theirs[k] = v;
    const d = compareLogits(probe.logits[step], theirs);
    worst = Math.max(worst, d.rel);
    let best = 0;
    for (let i = 1; i < nv; i++) if (theirs[i] > theirs[best]) best = i;
    gen.push(best);
    if (best !== probe.gen[step]) {
      if (top2gap(theirs) > 2 * d.abs) {
        msgs.push(`step ${step}: llama.cpp chose ${best}, we chose ${probe.gen[step]}`);
        break;
      }
      ties++;
    }
    // both continue with our token so the sequences stay comparable
    input = [[probe.gen[step], {generateNext: {logits: true}}]];
  }
  const text = model.detokenize(probe.gen, false, probe.prompt_tokens);
  if (ties === 0 && text !== probe.text)
    msgs.push(`text differs: llama.cpp ${JSON.stringify(text)} ours ${JSON.stringify(probe.text)}`);
  if (worst > c.tol)
    msgs.push(`logits differ by ${worst.toExponential(2)} of their RMS (tolerance ${c.tol})`);
  const name = c.model.split("/").pop();
  if (msgs.length) { failed++; console.log(`FAIL ${name}\n  ${msgs.join("\n  ")}`); }
  else console.log(`ok   ${name}: ${probe.prompt_tokens.length} prompt tokens identical, ` +
    `${probe.gen.length} greedy tokens identical${ties ? ` (${ties} near ties)` : ""}, ` +
    `worst logit diff ${worst.toExponential(2)} of RMS, text ${JSON.stringify(probe.text.slice(0, 30))}`);
  await ctx.dispose(); await model.dispose();
}
console.log(failed ? `${failed} model(s) differ` : "all models agree with llama.cpp");
process.exit(failed ? 1 : 0);
