#!/usr/bin/env python3
"""Write a tiny random-weight GGUF language model, deterministically from a seed.

Python 3 standard library only.  The quantisers follow the ggml block layouts
(Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) and are written independently of the engine,
so a test that loads these files checks the engine's decoding against a
second implementation.  Each model carries a small real tokenizer trained
here on a built-in corpus: SentencePiece-style (scores, byte fallback) for
`--tokenizer spm` and byte-level BPE with merges for `--tokenizer bpe`, plus
a chat template.

  mkgguf.py --arch llama --type Q4_K --seed 1 -o model.gguf
  mkgguf.py --arch qwen2 --type Q8_0 --fast --dim 2048 ... (benchmarks: one
      random chunk of valid blocks tiled over every tensor)
"""
import argparse
import math
import os
import random
import struct
import sys

CORPUS = """
The quick brown fox jumps over the lazy dog. A small model can still say
hello to the world, and the world says hello back. Once upon a time there was
a little robot who liked to read books about the sea, the stars and the
mountains. Every morning the robot walked to the library and asked the
librarian for a new story. "What is your name?" asked the librarian. "My name
is Tiny," said the robot, "and I want to learn everything." They talked about
numbers like 1, 2, 3, 42, 100 and 2024, about colours, about music and food.
Café, naïve, résumé, façade, Zürich, São Paulo, Ångström, El Niño.
你好世界，今天天气很好。我们一起去学习吧。日本語のテキストも少し。
Emoji: 🙂 🚀 🌍 ❤️ 👍 — and some symbols: € £ ¥ © ® ™ ± × ÷.
def main():
    print("hello, world")
    return 0
The end of the story is the beginning of another one. Hello hello hello!
"""

GGUF_TYPES = {'U8': 0, 'I8': 1, 'U16': 2, 'I16': 3, 'U32': 4, 'I32': 5,
              'F32': 6, 'BOOL': 7, 'STRING': 8, 'ARRAY': 9, 'U64': 10,
              'I64': 11, 'F64': 12}
GGML = {'F32': 0, 'F16': 1, 'Q4_0': 2, 'Q8_0': 8, 'Q4_K': 12, 'Q5_K': 13,
        'Q6_K': 14, 'BF16': 30}
BLOCK = {'F32': 1, 'F16': 1, 'BF16': 1, 'Q4_0': 32, 'Q8_0': 32,
         'Q4_K': 256, 'Q5_K': 256, 'Q6_K': 256}

TEMPLATES = {
    'chatml': "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    'llama3': "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
    'llama2': "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% endif %}{% endfor %}",
    'zephyr': "{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + eos_token }}{% elif message['role'] == 'system' %}{{ '<|system|>\\n' + message['content'] + eos_token }}{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\\n'  + message['content'] + eos_token }}{% endif %}{% if loop.last and add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}{% endfor %}",
    'gemma': "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
    'phi3': "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}",
}


# ---- numbers ----------------------------------------------------------------

def f16_bytes(x):
    return struct.pack('<e', x)


def f16_round(x):
    return struct.unpack('<e', struct.pack('<e', x))[0]


def bf16_bytes(x):
    bits = struct.unpack('<I', struct.pack('<f', x))[0]
    bits += 0x7FFF + ((bits >> 16) & 1)     # round to nearest even
    return struct.pack('<H', (bits >> 16) & 0xFFFF)


def rnd(x):
    """Round half away from zero, as C's roundf."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


# ---- quantisers (one block in, bytes out) -----------------------------------

def q8_0(x):
    amax = max(abs(v) for v in x)
    d = amax / 127.0
    inv = 1.0 / d if d else 0.0
    q = [max(-127, min(127, rnd(v * inv))) for v in x]
    return f16_bytes(d) + struct.pack('<32b', *q)


def q4_0(x):
    mx = max(x, key=abs)
    d = mx / -8.0
    inv = 1.0 / d if d else 0.0
    q = [max(0, min(15, int(v * inv + 8.5))) for v in x]
    return f16_bytes(d) + bytes(q[j] | q[j + 16] << 4 for j in range(16))


def pack_scales_k4(sc, mn):
    """Eight 6-bit (scale, min) pairs into ggml's 12-byte layout."""
    s = [0] * 12
    for j in range(8):
        if j < 4:
            s[j] |= sc[j]
            s[j + 4] |= mn[j]
        else:
            s[j + 4] |= (sc[j] & 0xF) | ((mn[j] & 0xF) << 4)
            s[j - 4] |= (sc[j] >> 4) << 6
            s[j] |= (mn[j] >> 4) << 6
    return bytes(s)


def kquant_affine(x, nmax):
    """Scales/mins for 8 sub-blocks of 32; returns (d, dmin, sc, mn, q)."""
    subs = [x[i:i + 32] for i in range(0, 256, 32)]
    scales, mins = [], []
    for s in subs:
        lo = min(0.0, min(s))
        scales.append((max(s) - lo) / nmax)
        mins.append(-lo)
    d = f16_round(max(scales) / 63.0)
    dmin = f16_round(max(mins) / 63.0)
    sc = [min(63, rnd(v / d)) if d else 0 for v in scales]
    mn = [min(63, rnd(v / dmin)) if dmin else 0 for v in mins]
    q = []
    for i, s in enumerate(subs):
        step = d * sc[i]
        off = dmin * mn[i]
        for v in s:
            q.append(max(0, min(nmax, rnd((v + off) / step))) if step else 0)
    return d, dmin, sc, mn, q


def q4_k(x):
    d, dmin, sc, mn, q = kquant_affine(x, 15)
    qs = bytearray(128)
    for c in range(4):
        for l in range(32):
            qs[32 * c + l] = q[64 * c + l] | q[64 * c + 32 + l] << 4
    return f16_bytes(d) + f16_bytes(dmin) + pack_scales_k4(sc, mn) + bytes(qs)


def q5_k(x):
    d, dmin, sc, mn, q = kquant_affine(x, 31)
    qs = bytearray(128)
    qh = bytearray(32)
    for c in range(4):
        for l in range(32):
            a, b = q[64 * c + l], q[64 * c + 32 + l]
            qs[32 * c + l] = (a & 0xF) | (b & 0xF) << 4
            qh[l] |= (a >> 4) << (2 * c) | (b >> 4) << (2 * c + 1)
    return (f16_bytes(d) + f16_bytes(dmin) + pack_scales_k4(sc, mn) +
            bytes(qh) + bytes(qs))


def q6_k(x):
    amaxes = [max(abs(v) for v in x[i:i + 16]) / 31.0 for i in range(0, 256, 16)]
    d = f16_round(max(amaxes) / 127.0)
    sc = [min(127, rnd(a / d)) if d else 0 for a in amaxes]
    q = []
    for i, v in enumerate(x):
        step = d * sc[i // 16]
        q.append(max(-32, min(31, rnd(v / step))) + 32 if step else 32)
    ql = bytearray(128)
    qh = bytearray(64)
    for n in range(2):
        for l in range(32):
            q1, q2, q3, q4 = (q[n * 128 + l + 32 * k] for k in range(4))
            ql[n * 64 + l] = (q1 & 0xF) | (q3 & 0xF) << 4
            ql[n * 64 + l + 32] = (q2 & 0xF) | (q4 & 0xF) << 4
            qh[n * 32 + l] = ((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 |
                              (q4 >> 4) << 6)
    return bytes(ql) + bytes(qh) + struct.pack('<16b', *sc) + f16_bytes(d)


QUANT = {'Q8_0': q8_0, 'Q4_0': q4_0, 'Q4_K': q4_k, 'Q5_K': q5_k, 'Q6_K': q6_k}


def encode(values, typ):
    if typ == 'F32':
        return struct.pack('<%df' % len(values), *values)
    if typ == 'F16':
        return struct.pack('<%de' % len(values), *values)
    if typ == 'BF16':
        return b''.join(bf16_bytes(v) for v in values)
    fn, n = QUANT[typ], BLOCK[typ]
    return b''.join(fn(values[i:i + n]) for i in range(0, len(values), n))


# ---- tokenizers ----------------------------------------------------------------

def train_merges(words, nmerges):
    """Plain BPE training on {tuple(symbols): count}; deterministic ties."""
    words = dict(words)
    merges = []
    for _ in range(nmerges):
        pairs = {}
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + c
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        if pairs[best] < 2:
            break
        merges.append(best)
        nw = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            nw[tuple(out)] = nw.get(tuple(out), 0) + c
        words = nw
    return merges


def spm_vocab(nmerges):
    """SentencePiece-style: <unk> <s> </s>, 256 byte tokens, chars, pieces."""
    text = CORPUS.replace('\n', ' ')
    words = {}
    for w in text.split(' '):
        if w:
            key = tuple('\u2581' + w)
            words[key] = words.get(key, 0) + 1
    merges = train_merges(words, nmerges)
    toks = ['<unk>', '<s>', '</s>'] + ['<0x%02X>' % b for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    scores = [0.0] * len(toks)
    for i, (a, b) in enumerate(merges):
        if a + b not in toks:
            toks.append(a + b)
            types.append(1)
            scores.append(-float(i))
    chars = sorted({c for w in words for c in w} - {'\n'})
    # Leave some corpus characters out so byte fallback is exercised.
    chars = [c for c in chars if c not in '¥ÅÑ🚀テ']
    for i, c in enumerate(chars):
        if c not in toks:
            toks.append(c)
            types.append(1)
            scores.append(-1000.0 - i)
    return toks, scores, types, None


def bytes_to_unicode():
    bs = (list(range(ord('!'), ord('~') + 1)) + list(range(0xA1, 0xAD)) +
          list(range(0xAE, 0x100)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def bpe_vocab(nmerges, specials):
    """Byte-level BPE: 256 byte symbols, merged tokens, then specials."""
    b2u = bytes_to_unicode()
    words = {}
    for line in CORPUS.split('\n'):
        for i, w in enumerate(line.split(' ')):
            w = (' ' if i else '') + w
            if w:
                key = tuple(b2u[b] for b in w.encode('utf-8'))
                words[key] = words.get(key, 0) + 1
    merges = train_merges(words, nmerges)
    toks = [b2u[b] for b in range(256)]
    for a, b in merges:
        if a + b not in toks:
            toks.append(a + b)
    types = [1] * len(toks)
    for s in specials:
        toks.append(s)
        types.append(3)
    return toks, None, types, ['%s %s' % m for m in merges]


# ---- the file ----------------------------------------------------------------

class Writer:
    def __init__(self):
        self.kv = []
        self.tensors = []

    def add(self, key, vtype, value, atype=None):
        self.kv.append((key, vtype, value, atype))

    def tensor(self, name, shape, typ, data):
        self.tensors.append((name, shape, typ, data))

    @staticmethod
    def _str(s):
        b = s.encode('utf-8')
        return struct.pack('<Q', len(b)) + b

    def _scalar(self, t, v):
        fmt = {'U8': 'B', 'I8': 'b', 'U16': 'H', 'I16': 'h', 'U32': 'I',
               'I32': 'i', 'F32': 'f', 'BOOL': '?', 'U64': 'Q', 'I64': 'q',
               'F64': 'd'}
        if t == 'STRING':
            return self._str(v)
        return struct.pack('<' + fmt[t], v)

    def write(self, path, align=32):
        out = bytearray()
        out += struct.pack('<IIQQ', 0x46554747, 3, len(self.tensors),
                           len(self.kv))
        for key, t, v, at in self.kv:
            out += self._str(key) + struct.pack('<I', GGUF_TYPES[t])
            if t == 'ARRAY':
                out += struct.pack('<IQ', GGUF_TYPES[at], len(v))
                out += b''.join(self._scalar(at, e) for e in v)
            else:
                out += self._scalar(t, v)
        off = 0
        for name, shape, typ, data in self.tensors:
            out += self._str(name) + struct.pack('<I', len(shape))
            out += b''.join(struct.pack('<Q', d) for d in shape)
            out += struct.pack('<IQ', GGML[typ], off)
            off += (len(data) + align - 1) // align * align
        out += bytes(-len(out) % align)
        tmp = path + '.tmp%d' % os.getpid()
        with open(tmp, 'wb') as f:
            f.write(out)
            for _, _, _, data in self.tensors:
                f.write(data)
                f.write(bytes(-len(data) % align))
        os.replace(tmp, path)


def gauss_list(rng, n, std, mean=0.0):
    return [rng.gauss(mean, std) for _ in range(n)]


def tensor_data(rng, n, typ, std, fast):
    """n values of N(0, std) in typ; in fast mode a tiled random chunk."""
    if not fast:
        return encode(gauss_list(rng, n, std), typ)
    chunk = min(n, 64 * 256)
    data = encode(gauss_list(rng, chunk, std), typ)
    reps = n // chunk
    return data * reps + encode(gauss_list(rng, n - reps * chunk, std), typ)


def build(a):
    rng = random.Random(a.seed)
    tok = a.tokenizer or ('spm' if a.arch == 'llama' else 'bpe')
    if tok == 'spm':
        toks, scores, types, merges = spm_vocab(a.merges)
    else:
        toks, scores, types, merges = bpe_vocab(
            a.merges, ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] +
            (['<|begin_of_text|>', '<|start_header_id|>',
              '<|end_header_id|>', '<|eot_id|>'] if a.pre == 'llama-bpe' else []))
    nvocab = a.vocab or len(toks)
    while len(toks) < nvocab:       # pad to a realistic vocabulary size
        toks.append('<pad%d>' % len(toks))
        types.append(5)
        if scores is not None:
            scores.append(-1e9)
    w = Writer()
    arch, hd = a.arch, a.dim // a.heads
    w.add('general.architecture', 'STRING', arch)
    w.add('general.name', 'STRING', 'tiny-%s-%s-seed%d' % (arch, a.type, a.seed))
    w.add('general.alignment', 'U32', 32)
    w.add(arch + '.context_length', 'U32', a.ctx)
    w.add(arch + '.embedding_length', 'U32', a.dim)
    w.add(arch + '.block_count', 'U32', a.layers)
    w.add(arch + '.feed_forward_length', 'U32', a.ffn)
    w.add(arch + '.attention.head_count', 'U32', a.heads)
    w.add(arch + '.attention.head_count_kv', 'U32', a.kv_heads)
    w.add(arch + '.attention.layer_norm_rms_epsilon', 'F32', 1e-5 if arch == 'llama' else 1e-6)
    w.add(arch + '.rope.freq_base', 'F32', a.rope_base)
    w.add(arch + '.rope.dimension_count', 'U32', hd)
    w.add('tokenizer.ggml.model', 'STRING', 'llama' if tok == 'spm' else 'gpt2')
    if tok == 'bpe':
        w.add('tokenizer.ggml.pre', 'STRING', a.pre)
    w.add('tokenizer.ggml.tokens', 'ARRAY', toks, 'STRING')
    if scores is not None:
        w.add('tokenizer.ggml.scores', 'ARRAY', scores, 'F32')
    w.add('tokenizer.ggml.token_type', 'ARRAY', types, 'I32')
    if merges is not None:
        w.add('tokenizer.ggml.merges', 'ARRAY', merges, 'STRING')
    if tok == 'spm':
        w.add('tokenizer.ggml.bos_token_id', 'U32', 1)
        w.add('tokenizer.ggml.eos_token_id', 'U32', 2)
        w.add('tokenizer.ggml.unknown_token_id', 'U32', 0)
        w.add('tokenizer.ggml.add_bos_token', 'BOOL', True)
    elif a.pre == 'llama-bpe':
        w.add('tokenizer.ggml.bos_token_id', 'U32', toks.index('<|begin_of_text|>'))
        w.add('tokenizer.ggml.eos_token_id', 'U32', toks.index('<|eot_id|>'))
        w.add('tokenizer.ggml.add_bos_token', 'BOOL', True)
    else:
        w.add('tokenizer.ggml.bos_token_id', 'U32', toks.index('<|endoftext|>'))
        w.add('tokenizer.ggml.eos_token_id', 'U32', toks.index('<|im_end|>'))
        w.add('tokenizer.ggml.padding_token_id', 'U32', toks.index('<|endoftext|>'))
        w.add('tokenizer.ggml.add_bos_token', 'BOOL', False)
    tmpl = a.template or ('llama2' if tok == 'spm' else
                          'llama3' if a.pre == 'llama-bpe' else 'chatml')
    w.add('tokenizer.chat_template', 'STRING', TEMPLATES[tmpl])
    add_weights(w, rng, a, nvocab, hd)
    w.write(a.out)


def add_weights(w, rng, a, nvocab, hd):
    t, dim, fast = a.type, a.dim, a.fast
    kvdim = a.kv_heads * hd

    def mat(name, nin, nout, std, typ=t):
        w.tensor(name, [nin, nout], typ, tensor_data(rng, nin * nout, typ, std, fast))

    def vec(name, n, std, mean=0.0):
        w.tensor(name, [n], 'F32', encode(gauss_list(rng, n, std, mean), 'F32'))

    mat('token_embd.weight', dim, nvocab, 1.0)
    vec('output_norm.weight', dim, 0.1, 1.0)
    if not a.tied:
        mat('output.weight', dim, nvocab, 3.0 / math.sqrt(dim))
    for i in range(a.layers):
        p = 'blk.%d.' % i
        vec(p + 'attn_norm.weight', dim, 0.1, 1.0)
        mat(p + 'attn_q.weight', dim, dim, 1.0 / math.sqrt(dim))
        mat(p + 'attn_k.weight', dim, kvdim, 1.0 / math.sqrt(dim))
        mat(p + 'attn_v.weight', dim, kvdim, 1.0 / math.sqrt(dim))
        if a.arch == 'qwen2':
            vec(p + 'attn_q.bias', dim, 0.5)
            vec(p + 'attn_k.bias', kvdim, 0.5)
            vec(p + 'attn_v.bias', kvdim, 0.5)
        mat(p + 'attn_output.weight', dim, dim, 1.0 / math.sqrt(dim))
        vec(p + 'ffn_norm.weight', dim, 0.1, 1.0)
        mat(p + 'ffn_gate.weight', dim, a.ffn, 1.0 / math.sqrt(dim))
        mat(p + 'ffn_up.weight', dim, a.ffn, 1.0 / math.sqrt(dim))
        mat(p + 'ffn_down.weight', a.ffn, dim, 1.0 / math.sqrt(a.ffn))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--arch', choices=['llama', 'qwen2'], default='llama')
    p.add_argument('--type', choices=sorted(BLOCK), default='F32')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--dim', type=int, default=256)
    p.add_argument('--layers', type=int, default=2)
    p.add_argument('--heads', type=int, default=4)
    p.add_argument('--kv-heads', type=int, default=2)
    p.add_argument('--ffn', type=int, default=512)
    p.add_argument('--ctx', type=int, default=512)
    p.add_argument('--vocab', type=int, default=0, help='pad vocabulary to N')
    p.add_argument('--merges', type=int, default=300)
    p.add_argument('--rope-base', type=float, default=10000.0)
    p.add_argument('--tokenizer', choices=['spm', 'bpe'])
    p.add_argument('--pre', default='qwen2', help='BPE pre-tokenizer name')
    p.add_argument('--template', choices=sorted(TEMPLATES))
    p.add_argument('--tied', action='store_true', help='no output.weight')
    p.add_argument('--fast', action='store_true',
                   help='tile one random chunk (benchmarks)')
    p.add_argument('-o', '--out', required=True)
    a = p.parse_args()
    if a.dim % a.heads or a.heads % a.kv_heads:
        sys.exit('mkgguf: heads must divide dim and kv-heads divide heads')
    for n in (a.dim, a.ffn):
        if n % BLOCK[a.type]:
            sys.exit('mkgguf: %d is not a multiple of the %s block' % (n, a.type))
    build(a)


if __name__ == '__main__':
    main()
