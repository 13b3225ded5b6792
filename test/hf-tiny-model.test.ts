import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bpeDecode,
  bpeEncode,
  buildSafetensors,
  bytesToUnicode,
  parseSafetensorsHeader,
  safetensorsProblems,
  tinyModel,
  tinyModelTensors,
  writeTinyModel,
  type TinyModelOptions,
} from '../tools/tiny-model/index.js';
import { tempDir } from './helpers/tmp.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The parameters each HF class declares, derived here from config.json alone (independently of the generator). */
function expectedTensors(config: Record<string, unknown>, layout: 'hub' | 'save_pretrained'): Map<string, number[]> {
  const m = new Map<string, number[]>();
  if (config['model_type'] === 'gpt2') {
    const e = config['n_embd'] as number;
    const inner = (config['n_inner'] as number | null) ?? 4 * e;
    const p = layout === 'hub' ? '' : 'transformer.';
    m.set(`${p}wte.weight`, [config['vocab_size'] as number, e]);
    m.set(`${p}wpe.weight`, [config['n_positions'] as number, e]);
    for (let i = 0; i < (config['n_layer'] as number); i++) {
      const l = `${p}h.${i}.`;
      for (const ln of ['ln_1', 'ln_2']) {
        m.set(`${l}${ln}.weight`, [e]);
        m.set(`${l}${ln}.bias`, [e]);
      }
      m.set(`${l}attn.c_attn.weight`, [e, 3 * e]);
      m.set(`${l}attn.c_attn.bias`, [3 * e]);
      m.set(`${l}attn.c_proj.weight`, [e, e]);
      m.set(`${l}attn.c_proj.bias`, [e]);
      m.set(`${l}mlp.c_fc.weight`, [e, inner]);
      m.set(`${l}mlp.c_fc.bias`, [inner]);
      m.set(`${l}mlp.c_proj.weight`, [inner, e]);
      m.set(`${l}mlp.c_proj.bias`, [e]);
    }
    m.set(`${p}ln_f.weight`, [e]);
    m.set(`${p}ln_f.bias`, [e]);
  } else {
    const h = config['hidden_size'] as number;
    const f = config['ffn_dim'] as number;
    const p = layout === 'hub' ? 'decoder.' : 'model.decoder.';
    m.set(`${p}embed_tokens.weight`, [config['vocab_size'] as number, config['word_embed_proj_dim'] as number]);
    m.set(`${p}embed_positions.weight`, [(config['max_position_embeddings'] as number) + 2, h]);
    for (let i = 0; i < (config['num_hidden_layers'] as number); i++) {
      const l = `${p}layers.${i}.`;
      for (const q of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
        m.set(`${l}self_attn.${q}.weight`, [h, h]);
        m.set(`${l}self_attn.${q}.bias`, [h]);
      }
      for (const ln of ['self_attn_layer_norm', 'final_layer_norm']) {
        m.set(`${l}${ln}.weight`, [h]);
        m.set(`${l}${ln}.bias`, [h]);
      }
      m.set(`${l}fc1.weight`, [f, h]);
      m.set(`${l}fc1.bias`, [f]);
      m.set(`${l}fc2.weight`, [h, f]);
      m.set(`${l}fc2.bias`, [h]);
    }
    m.set(`${p}final_layer_norm.weight`, [h]);
    m.set(`${p}final_layer_norm.bias`, [h]);
  }
  return m;
}

const cases: TinyModelOptions[] = [
  { arch: 'gpt2' },
  { arch: 'opt' },
  { arch: 'gpt2', dtype: 'BF16', layers: 3, hidden: 32, heads: 2, vocab: 400, positions: 64, layout: 'save_pretrained' },
  { arch: 'opt', dtype: 'BF16', layers: 1, hidden: 48, heads: 6, vocab: 512, positions: 256, ffn: 100, layout: 'save_pretrained' },
];

describe('tiny model: safetensors', () => {
  it.each(cases)('$arch $dtype $layout: offsets contiguous, cover the file, shapes match the config', (opts) => {
    const m = tinyModel(opts);
    const file = m.files['model.safetensors']!;
    expect(safetensorsProblems(file)).toEqual([]);
    const h = parseSafetensorsHeader(file);
    expect(h.metadata).toEqual({ format: 'pt' });
    expect(file.readBigUInt64LE(0)).toBe(BigInt(h.headerLength));
    expect(h.dataStart % 8).toBe(0); // header padded to 8 bytes, as the reference writer does

    // Contiguous ranges covering [0, data length) exactly, in file order.
    const ranges = Object.values(h.tensors)
      .map((t) => t.data_offsets)
      .sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [b, e] of ranges) {
      expect(b).toBe(at);
      at = e;
    }
    expect(at).toBe(file.length - h.dataStart);

    const want = expectedTensors(m.config, opts.layout ?? 'hub');
    const got = new Map(Object.entries(h.tensors).map(([k, t]) => [k, t.shape]));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, shape] of want) expect(got.get(k), k).toEqual(shape);
    const dtype = opts.dtype ?? 'F32';
    for (const t of Object.values(h.tensors)) expect(t.dtype).toBe(dtype);
    expect(m.config['torch_dtype']).toBe(dtype === 'F32' ? 'float32' : 'bfloat16');
    expect(m.tensors.map((t) => t.name)).toEqual(Object.keys(h.tensors));
    expect(tinyModelTensors(opts)).toEqual(m.tensors);
  });

  it('weights: LayerNorm weight 1 / bias 0, others small, finite and not all equal', () => {
    const m = tinyModel({ arch: 'gpt2' });
    const file = m.files['model.safetensors']!;
    const h = parseSafetensorsHeader(file);
    const f32 = (name: string): Float32Array => {
      const [b, e] = h.tensors[name]!.data_offsets;
      const copy = file.subarray(h.dataStart + b, h.dataStart + e);
      return new Float32Array(copy.buffer.slice(copy.byteOffset, copy.byteOffset + copy.byteLength));
    };
    expect([...f32('ln_f.weight')].every((x) => x === 1)).toBe(true);
    expect([...f32('h.0.ln_1.bias')].every((x) => x === 0)).toBe(true);
    const w = f32('h.1.attn.c_attn.weight');
    expect(w.every((x) => Number.isFinite(x) && Math.abs(x) < 0.05)).toBe(true);
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const sd = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(sd).toBeGreaterThan(0.015);
    expect(sd).toBeLessThan(0.025);

    const bf = tinyModel({ arch: 'opt', dtype: 'BF16' });
    const bfFile = bf.files['model.safetensors']!;
    const bh = parseSafetensorsHeader(bfFile);
    const [b0] = bh.tensors['decoder.final_layer_norm.weight']!.data_offsets;
    expect(bfFile.readUInt16LE(bh.dataStart + b0)).toBe(0x3f80); // bfloat16 1.0
  });

  it('stays small by default (< 2 MB in all)', () => {
    for (const arch of ['gpt2', 'opt'] as const) {
      const total = Object.values(tinyModel({ arch }).files).reduce((a, b) => a + b.length, 0);
      expect(total).toBeLessThan(2_000_000);
    }
  });

  it('parseSafetensorsHeader refuses malformed input', () => {
    expect(() => parseSafetensorsHeader(Buffer.alloc(4))).toThrow(/8-byte/);
    const bad = Buffer.alloc(16);
    bad.writeBigUInt64LE(1000n, 0);
    expect(() => parseSafetensorsHeader(bad)).toThrow(/runs past/);
    const notJson = Buffer.concat([Buffer.alloc(8), Buffer.from('{nope')]);
    notJson.writeBigUInt64LE(5n, 0);
    expect(() => parseSafetensorsHeader(notJson)).toThrow(/not JSON/);
    const hdr = Buffer.from(JSON.stringify({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }));
    const wrong = Buffer.concat([Buffer.alloc(8), hdr, Buffer.alloc(4)]);
    wrong.writeBigUInt64LE(BigInt(hdr.length), 0);
    expect(() => parseSafetensorsHeader(wrong)).toThrow(/do not match shape/);
    // A gap between tensors, or data past the last tensor, is reported by safetensorsProblems.
    const ok = buildSafetensors([{ name: 'a', dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) }]);
    expect(safetensorsProblems(ok)).toEqual([]);
    expect(safetensorsProblems(Buffer.concat([ok, Buffer.from([0])]))).toEqual(['tensors cover 3 bytes, data section has 4']);
    // Only the header is needed to parse it.
    const h = parseSafetensorsHeader(ok.subarray(0, 8 + Number(ok.readBigUInt64LE(0))));
    expect(h.tensors['a']).toEqual({ dtype: 'U8', shape: [3], data_offsets: [0, 3] });
  });
});

describe('tiny model: determinism and files on disk', () => {
  it('same seed → same bytes; another seed → other weights, same tokenizer', async () => {
    const a = await writeTinyModel(await tempDir('tiny-a'), { arch: 'gpt2', seed: 7 });
    const b = await writeTinyModel(await tempDir('tiny-b'), { arch: 'gpt2', seed: 7 });
    expect(a.sha256).toEqual(b.sha256);
    const c = tinyModel({ arch: 'gpt2', seed: 8 });
    expect(sha256(c.files['model.safetensors']!)).not.toBe(a.sha256['model.safetensors']);
    expect(sha256(c.files['vocab.json']!)).toBe(a.sha256['vocab.json']);
    // Pinned: a change of the generator's output must be deliberate (fixtures and baselines depend on it).
    expect(a.sha256['model.safetensors']).toBe('8e9f22473223af91d30408d68aaa2db6ae548c14d270e29f555e3827b96a804f');
    expect(sha256(tinyModel({ arch: 'opt', seed: 7 }).files['model.safetensors']!)).toBe('c2a22e9e9ad1c8c16c0dc63ea0603af62a9757fc8f0d179cf894ceaf488794a6');

    const names = (await readdir(a.dir)).sort();
    expect(names).toEqual([
      'config.json',
      'generation_config.json',
      'merges.txt',
      'model.safetensors',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'vocab.json',
    ]);
    for (const n of names) expect(sha256(await readFile(join(a.dir, n)))).toBe(a.sha256[n]);
    const opt = await writeTinyModel(await tempDir('tiny-opt'), { arch: 'opt' });
    expect((await readdir(opt.dir)).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'merges.txt',
      'model.safetensors',
      'special_tokens_map.json',
      'tokenizer_config.json',
      'vocab.json',
    ]);
  });

  it('configs carry the fields transformers and vLLM read', () => {
    const g = tinyModel({ arch: 'gpt2' }).config;
    expect(g).toMatchObject({
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      n_layer: 2,
      n_head: 4,
      n_embd: 64,
      n_positions: 128,
      n_ctx: 128,
      vocab_size: 300,
      bos_token_id: 299,
      eos_token_id: 299,
      activation_function: 'gelu_new',
    });
    const o = tinyModel({ arch: 'opt' }).config;
    expect(o).toMatchObject({
      model_type: 'opt',
      architectures: ['OPTForCausalLM'],
      num_hidden_layers: 2,
      hidden_size: 64,
      ffn_dim: 256,
      num_attention_heads: 4,
      max_position_embeddings: 128,
      word_embed_proj_dim: 64,
      vocab_size: 300,
      do_layer_norm_before: true,
      bos_token_id: 2,
      eos_token_id: 2,
      pad_token_id: 1,
      torch_dtype: 'float32',
    });
    expect(() => tinyModel({ arch: 'gpt2', hidden: 30, heads: 4 })).toThrow(/multiple of heads/);
    expect(() => tinyModel({ arch: 'opt', vocab: 259 })).toThrow(/>= 260/);
  });
});

describe('tiny model: tokenizer', () => {
  it.each([
    { arch: 'gpt2' as const, vocab: 300 },
    { arch: 'opt' as const, vocab: 300 },
    { arch: 'gpt2' as const, vocab: 1500 }, // past what the corpus gives: fallback merges
  ])('$arch vocab $vocab: vocab/merges consistent with each other and with config', ({ arch, vocab }) => {
    const m = tinyModel({ arch, vocab });
    const v = JSON.parse(m.files['vocab.json']!.toString('utf8')) as Record<string, number>;
    const lines = m.files['merges.txt']!.toString('utf8').split('\n');
    expect(lines[0]).toBe('#version: 0.2');
    const merges = lines
      .slice(1)
      .filter((l) => l !== '')
      .map((l) => l.split(' ') as [string, string]);

    // Ids are exactly 0..vocab_size-1, one token each.
    const ids = Object.values(v).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: m.config['vocab_size'] as number }, (_, i) => i));
    expect(ids.length).toBe(vocab);
    // Every byte has its token.
    for (const c of bytesToUnicode()) expect(v[c], c).toBeTypeOf('number');
    // Every merge: two parts, both in the vocab and made before it (bytes or earlier merges), result in vocab.
    const made = new Set(bytesToUnicode());
    for (const mg of merges) {
      expect(mg).toHaveLength(2);
      const [a, b] = mg;
      expect(made.has(a), `merge part ${a}`).toBe(true);
      expect(made.has(b), `merge part ${b}`).toBe(true);
      expect(v[a + b], `merge result ${a + b}`).toBeTypeOf('number');
      made.add(a + b);
    }
    expect(new Set(merges.map((x) => x.join(' '))).size).toBe(merges.length);
    expect(merges.length).toBe(vocab - 256 - (arch === 'gpt2' ? 1 : 4));

    const special = JSON.parse(m.files['special_tokens_map.json']!.toString('utf8')) as Record<string, string>;
    const tc = JSON.parse(m.files['tokenizer_config.json']!.toString('utf8')) as Record<string, unknown>;
    expect(tc['tokenizer_class']).toBe('GPT2Tokenizer');
    for (const s of Object.values(special)) expect(v[s], s).toBeTypeOf('number');
    expect(v[special['eos_token']!]).toBe(m.config['eos_token_id']);
    expect(v[special['bos_token']!]).toBe(m.config['bos_token_id']);
    if (arch === 'gpt2') {
      expect(v['<|endoftext|>']).toBe(vocab - 1);
      const tj = JSON.parse(m.files['tokenizer.json']!.toString('utf8')) as {
        model: { type: string; vocab: Record<string, number>; merges: string[] };
        added_tokens: { id: number; content: string; special: boolean }[];
      };
      expect(tj.model.type).toBe('BPE');
      expect(tj.model.vocab).toEqual(v);
      expect(tj.model.merges).toEqual(merges.map((x) => x.join(' ')));
      expect(tj.added_tokens).toMatchObject([{ id: vocab - 1, content: '<|endoftext|>', special: true }]);
    } else {
      expect(v).toMatchObject({ '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3 });
      expect(m.config['pad_token_id']).toBe(v[special['pad_token']!]);
    }

    // Encoding ASCII text uses merges and round-trips.
    const text = 'Hello, my name is Ada. The capital of France is Paris! 42 ~{}';
    const enc = bpeEncode(m.tokenizer, text);
    expect(enc.length).toBeLessThan(Buffer.byteLength(text));
    expect(enc.every((id) => id >= 0 && id < vocab)).toBe(true);
    expect(bpeDecode(m.tokenizer, enc)).toBe(text);
  });
});
