/**
 * Tiny but REAL Hugging Face models, made in pure TypeScript: a config that transformers accepts, a
 * model.safetensors holding every parameter the model class expects (exact names and shapes), and a
 * byte-level BPE tokenizer that GPT2Tokenizer / AutoTokenizer load. Used as test fixtures (a fake hub serves
 * them, a GPU box loads them) where nothing may be fetched from the Hub.
 *
 * Tensor names mirror the real hub repos, not `save_pretrained` output (see `layout`):
 * - gpt2 (openai-community/gpt2, model.safetensors): no `transformer.` prefix: `wte.weight`, `wpe.weight`,
 *   `h.N.{ln_1,attn.c_attn,attn.c_proj,ln_2,mlp.c_fc,mlp.c_proj}.{weight,bias}`, `ln_f.{weight,bias}`; Conv1D
 *   weights are [in, out]; no `lm_head.weight` (tied to wte). The real file also stores the causal-mask buffers
 *   `h.N.attn.bias` ([1,1,n_positions,n_positions], F32); they are not parameters and loaders skip them, so
 *   they are left out here.
 * - opt (facebook/opt-125m): `decoder.` prefix (the checkpoint was saved from OPTModel):
 *   `decoder.embed_tokens.weight` [vocab, word_embed_proj_dim], `decoder.embed_positions.weight`
 *   [max_position_embeddings + 2, hidden] (OPTLearnedPositionalEmbedding offsets positions by 2),
 *   `decoder.layers.N.self_attn.{q,k,v,out}_proj.{weight,bias}`, `decoder.layers.N.self_attn_layer_norm`,
 *   `decoder.layers.N.fc1` [ffn, hidden], `decoder.layers.N.fc2` [hidden, ffn], `decoder.layers.N.final_layer_norm`,
 *   `decoder.final_layer_norm`; lm_head tied, not stored.
 * transformers adds/strips the base-model prefix (`transformer` / `model`) on load, and vLLM's loaders do the
 * same (gpt2.py prefixes `transformer.`, opt.py maps `decoder.` to `model.decoder.`). `layout:
 * 'save_pretrained'` writes the prefixed names that `model.save_pretrained()` of the *ForCausalLM class writes.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type TinyArch = 'gpt2' | 'opt';
export type TinyDtype = 'F32' | 'BF16';

export interface TinyModelOptions {
  arch: TinyArch;
  /** PRNG seed (uint32); the same options give byte-identical files. Default 0. */
  seed?: number;
  /** Decoder layers. Default 2. */
  layers?: number;
  /** Hidden size (n_embd / hidden_size). Default 64. */
  hidden?: number;
  /** Attention heads; must divide `hidden`. Default 4. */
  heads?: number;
  /**
   * Vocabulary size of the model AND the tokenizer (they are equal: 256 byte tokens, BPE merges, special
   * tokens). gpt2 needs >= 257, opt >= 260. Default 300.
   */
  vocab?: number;
  /** Maximum positions (n_positions / max_position_embeddings). Default 128. */
  positions?: number;
  /** MLP width (gpt2 n_inner, opt ffn_dim). Default 4 * hidden. */
  ffn?: number;
  /** Weight dtype in the safetensors file. Default F32. */
  dtype?: TinyDtype;
  /** Tensor names: as the real hub repos (default) or as `save_pretrained` of the *ForCausalLM class writes. */
  layout?: 'hub' | 'save_pretrained';
}

export interface TensorSpec {
  name: string;
  shape: number[];
}

export interface TinyModel {
  /** Files by relative name (config.json, model.safetensors, vocab.json…), sorted by name. */
  files: Record<string, Buffer>;
  /** The parsed config.json. */
  config: Record<string, unknown>;
  /** Every tensor in model.safetensors, in file order. */
  tensors: TensorSpec[];
  /** Tokenizer: vocabulary (token → id), merges in rank order, and the special token ids. */
  tokenizer: ByteLevelBpe;
}

export interface ByteLevelBpe {
  vocab: Record<string, number>;
  merges: [string, string][];
  bosId: number;
  eosId: number;
  padId?: number;
  unkId?: number;
}

const STD = 0.02;

interface Dims {
  arch: TinyArch;
  seed: number;
  layers: number;
  hidden: number;
  heads: number;
  vocab: number;
  positions: number;
  ffn: number;
  dtype: TinyDtype;
  layout: 'hub' | 'save_pretrained';
}

function dims(o: TinyModelOptions): Dims {
  const hidden = o.hidden ?? 64;
  const d: Dims = {
    arch: o.arch,
    seed: (o.seed ?? 0) >>> 0,
    layers: o.layers ?? 2,
    hidden,
    heads: o.heads ?? 4,
    vocab: o.vocab ?? 300,
    positions: o.positions ?? 128,
    ffn: o.ffn ?? 4 * hidden,
    dtype: o.dtype ?? 'F32',
    layout: o.layout ?? 'hub',
  };
  if (d.arch !== 'gpt2' && d.arch !== 'opt') throw new Error(`unknown arch ${String(d.arch)}`);
  for (const k of ['layers', 'hidden', 'heads', 'vocab', 'positions', 'ffn'] as const) {
    if (!Number.isInteger(d[k]) || d[k] < 1) throw new Error(`${k} must be a positive integer, got ${d[k]}`);
  }
  if (d.hidden % d.heads !== 0) throw new Error(`hidden (${d.hidden}) must be a multiple of heads (${d.heads})`);
  const min = d.arch === 'gpt2' ? 257 : 260;
  if (d.vocab < min) throw new Error(`vocab must be >= ${min} for ${d.arch} (256 bytes + special tokens)`);
  if (d.dtype !== 'F32' && d.dtype !== 'BF16') throw new Error(`dtype must be F32 or BF16`);
  return d;
}

// ---------------------------------------------------------------------------------------------------------
// Tensor layout

/** Names and shapes of every parameter, in safetensors order (sorted by name). */
export function tinyModelTensors(opts: TinyModelOptions): TensorSpec[] {
  const d = dims(opts);
  const out: TensorSpec[] = [];
  const add = (name: string, ...shape: number[]): void => {
    out.push({ name, shape });
  };
  const h = d.hidden;
  if (d.arch === 'gpt2') {
    const p = d.layout === 'save_pretrained' ? 'transformer.' : '';
    add(`${p}wte.weight`, d.vocab, h);
    add(`${p}wpe.weight`, d.positions, h);
    for (let i = 0; i < d.layers; i++) {
      const l = `${p}h.${i}.`;
      add(`${l}ln_1.weight`, h);
      add(`${l}ln_1.bias`, h);
      // Conv1D stores weight as [in_features, out_features].
      add(`${l}attn.c_attn.weight`, h, 3 * h);
      add(`${l}attn.c_attn.bias`, 3 * h);
      add(`${l}attn.c_proj.weight`, h, h);
      add(`${l}attn.c_proj.bias`, h);
      add(`${l}ln_2.weight`, h);
      add(`${l}ln_2.bias`, h);
      add(`${l}mlp.c_fc.weight`, h, d.ffn);
      add(`${l}mlp.c_fc.bias`, d.ffn);
      add(`${l}mlp.c_proj.weight`, d.ffn, h);
      add(`${l}mlp.c_proj.bias`, h);
    }
    add(`${p}ln_f.weight`, h);
    add(`${p}ln_f.bias`, h);
  } else {
    const p = d.layout === 'save_pretrained' ? 'model.decoder.' : 'decoder.';
    add(`${p}embed_tokens.weight`, d.vocab, h); // word_embed_proj_dim == hidden_size: no project_in/out
    add(`${p}embed_positions.weight`, d.positions + 2, h);
    for (let i = 0; i < d.layers; i++) {
      const l = `${p}layers.${i}.`;
      for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
        // nn.Linear stores weight as [out_features, in_features].
        add(`${l}self_attn.${proj}.weight`, h, h);
        add(`${l}self_attn.${proj}.bias`, h);
      }
      add(`${l}self_attn_layer_norm.weight`, h);
      add(`${l}self_attn_layer_norm.bias`, h);
      add(`${l}fc1.weight`, d.ffn, h);
      add(`${l}fc1.bias`, d.ffn);
      add(`${l}fc2.weight`, h, d.ffn);
      add(`${l}fc2.bias`, h);
      add(`${l}final_layer_norm.weight`, h);
      add(`${l}final_layer_norm.bias`, h);
    }
    add(`${p}final_layer_norm.weight`, h);
    add(`${p}final_layer_norm.bias`, h);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------------------
// Deterministic weights

/** mulberry32: a small, fast, well-mixed 32-bit PRNG; integer arithmetic only, so identical everywhere. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of a string mixed with the seed: each tensor gets its own stream, independent of file order. */
function streamSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function tensorValues(seed: number, spec: TensorSpec): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  if (/(ln_1|ln_2|ln_f|layer_norm)\.(weight|bias)$/.test(spec.name)) {
    // LayerNorm as initialised: weight 1, bias 0.
    v.fill(spec.name.endsWith('.weight') ? 1 : 0);
    return v;
  }
  // Uniform with the standard deviation of the usual N(0, 0.02) init (biases: half of it): no transcendental
  // functions, so the bytes do not depend on the platform's libm.
  const rand = mulberry32(streamSeed(seed, spec.name));
  const std = spec.name.endsWith('.bias') ? STD / 2 : STD;
  const a = std * Math.sqrt(3);
  for (let i = 0; i < n; i++) v[i] = (rand() * 2 - 1) * a;
  return v;
}

/** float32 → bfloat16 bits, round to nearest even (NaN kept quiet). */
function toBf16(f: Float32Array): Uint16Array {
  const u = new Uint32Array(f.buffer, f.byteOffset, f.length);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i]!;
    if ((x & 0x7fffffff) > 0x7f800000) {
      out[i] = (x >>> 16) | 0x40;
      continue;
    }
    out[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// safetensors

/** A safetensors dtype name: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, F8_E4M3… */
export type SafetensorsDtype = string;

const DTYPE_SIZE: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1,
};

export interface SafetensorsTensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** [begin, end) relative to the start of the data section (after the header). */
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  /** Length of the JSON header in bytes (the little-endian u64 at the start of the file). */
  headerLength: number;
  /** Where the data section starts in the file: 8 + headerLength. */
  dataStart: number;
  /** `__metadata__` (string → string), if present. */
  metadata: Record<string, string> | undefined;
  /** Tensors by name, in the header's order. */
  tensors: Record<string, SafetensorsTensorInfo>;
}

/** One tensor to serialise; `data` is its raw little-endian bytes. */
export interface SafetensorsInput {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: Uint8Array;
}

/**
 * Serialises tensors in the safetensors format: u64 LE header length, JSON header (padded with spaces to a
 * multiple of 8, as the reference implementation does), then the tensors' bytes back to back in the given order.
 */
export function buildSafetensors(tensors: SafetensorsInput[], metadata: Record<string, string> = { format: 'pt' }): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const t of tensors) {
    const size = DTYPE_SIZE[t.dtype];
    if (size === undefined) throw new Error(`unknown dtype ${t.dtype}`);
    const want = t.shape.reduce((a, b) => a * b, 1) * size;
    if (want !== t.data.byteLength) {
      throw new Error(`${t.name}: ${t.data.byteLength} bytes for shape [${t.shape.join(',')}] ${t.dtype} (want ${want})`);
    }
    if (t.name in header) throw new Error(`duplicate tensor ${t.name}`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + want] };
    off += want;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + head.length + off);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let pos = 8 + head.length;
  for (const t of tensors) {
    out.set(t.data, pos);
    pos += t.data.byteLength;
  }
  return out;
}

/**
 * Reads the header of a safetensors file. `buf` may be the whole file or only its start (at least
 * 8 + header length bytes). Throws on a malformed header (bad length, not a JSON object, a tensor entry
 * without dtype/shape/data_offsets, offsets that disagree with shape × dtype size).
 */
export function parseSafetensorsHeader(buf: Uint8Array): SafetensorsHeader {
  if (buf.byteLength < 8) throw new Error('safetensors: shorter than the 8-byte header length');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > 100_000_000n) throw new Error(`safetensors: header length ${n} is too large`);
  const headerLength = Number(n);
  if (8 + headerLength > buf.byteLength) {
    throw new Error(`safetensors: header length ${headerLength} runs past the ${buf.byteLength} bytes given`);
  }
  const text = Buffer.from(buf.buffer, buf.byteOffset + 8, headerLength).toString('utf8');
  if (!text.startsWith('{')) throw new Error('safetensors: header does not start with "{"');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`safetensors: header is not JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('safetensors: header is not an object');
  let metadata: Record<string, string> | undefined;
  const tensors: Record<string, SafetensorsTensorInfo> = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('safetensors: bad __metadata__');
      for (const v of Object.values(value)) {
        if (typeof v !== 'string') throw new Error('safetensors: __metadata__ values must be strings');
      }
      metadata = value as Record<string, string>;
      continue;
    }
    const e = value as Partial<SafetensorsTensorInfo> | null;
    if (
      typeof e !== 'object' || e === null || typeof e.dtype !== 'string' || !Array.isArray(e.shape) ||
      !e.shape.every((x) => Number.isInteger(x) && x >= 0) || !Array.isArray(e.data_offsets) ||
      e.data_offsets.length !== 2 || !e.data_offsets.every((x) => Number.isInteger(x) && x >= 0)
    ) {
      throw new Error(`safetensors: bad entry for tensor ${name}`);
    }
    const [b, en] = e.data_offsets as [number, number];
    const size = DTYPE_SIZE[e.dtype];
    if (en < b) throw new Error(`safetensors: ${name}: data_offsets end before begin`);
    if (size !== undefined && (en - b) !== e.shape.reduce((a, c) => a * c, 1) * size) {
      throw new Error(`safetensors: ${name}: ${en - b} bytes do not match shape [${e.shape.join(',')}] ${e.dtype}`);
    }
    tensors[name] = { dtype: e.dtype, shape: e.shape, data_offsets: [b, en] };
  }
  return { headerLength, dataStart: 8 + headerLength, metadata, tensors };
}

/**
 * What is wrong with a whole safetensors file, as the reference loader checks it: the tensors' byte ranges,
 * sorted, must start at 0, touch without gaps or overlaps, and end exactly at the end of the file. Empty = fine.
 */
export function safetensorsProblems(file: Uint8Array): string[] {
  let h: SafetensorsHeader;
  try {
    h = parseSafetensorsHeader(file);
  } catch (err) {
    return [(err as Error).message];
  }
  const problems: string[] = [];
  const ranges = Object.entries(h.tensors)
    .map(([name, t]) => ({ name, b: t.data_offsets[0], e: t.data_offsets[1] }))
    .sort((x, y) => x.b - y.b || x.e - y.e);
  let at = 0;
  for (const r of ranges) {
    if (r.b !== at) problems.push(`${r.name} starts at ${r.b}, expected ${at}`);
    at = Math.max(at, r.e);
  }
  const dataLen = file.byteLength - h.dataStart;
  if (at !== dataLen) problems.push(`tensors cover ${at} bytes, data section has ${dataLen}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// Byte-level BPE tokenizer (GPT-2 style)

/** GPT-2's bytes_to_unicode(): byte value → the printable character that stands for it in vocab/merges. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i]!)));
  return out;
}

/** The byte order of GPT-2's vocab: ids 0..255 are the bytes in bytes_to_unicode()'s list order. */
function byteOrder(): number[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) bs.push(b);
  return bs;
}

/** GPT-2's pre-tokenisation pattern. */
const GPT2_PAT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const CORPUS = [
  'Hello, my name is Ada and I am a tiny model. The capital of France is Paris.',
  'The quick brown fox jumps over the lazy dog. The future of AI is in the open.',
  'This is a test of the offline bundle: the model and the tokenizer were made on the build host,',
  'then they went to the air-gapped box with their checksums. There they are loaded and they generate text.',
  'It is the one that the box in the rack runs, and at the end of the day the test is on the GPU too.',
].join(' ');

function toByteChars(s: string, b2u: string[]): string {
  return [...Buffer.from(s, 'utf8')].map((b) => b2u[b]!).join('');
}

/**
 * Learns `count` BPE merges on a fixed English corpus (most frequent pair first, ties broken by the pair's
 * text), then, if the corpus runs out, adds merges of printable byte pairs. Deterministic.
 */
function learnMerges(count: number, b2u: string[]): [string, string][] {
  const words = new Map<string, number>();
  for (const m of CORPUS.matchAll(GPT2_PAT)) {
    const w = toByteChars(m[0], b2u);
    words.set(w, (words.get(w) ?? 0) + 1);
  }
  let segs = [...words.entries()].map(([w, c]) => ({ parts: [...w], c }));
  const known = new Set<string>(b2u);
  const merges: [string, string][] = [];
  while (merges.length < count) {
    const pairs = new Map<string, number>();
    for (const { parts, c } of segs) {
      for (let i = 0; i + 1 < parts.length; i++) {
        const k = `${parts[i]} ${parts[i + 1]}`;
        pairs.set(k, (pairs.get(k) ?? 0) + c);
      }
    }
    let best: string | undefined;
    let bestN = 1; // a pair seen once is not worth a merge: fall back instead
    for (const [k, n] of pairs) {
      const [a, b] = k.split(' ') as [string, string];
      if (known.has(a + b)) continue;
      if (n > bestN || (n === bestN && best !== undefined && k < best)) {
        best = k;
        bestN = n;
      }
    }
    if (best === undefined) break;
    const [a, b] = best.split(' ') as [string, string];
    merges.push([a, b]);
    known.add(a + b);
    segs = segs.map(({ parts, c }) => {
      const out: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i + 1 < parts.length && parts[i] === a && parts[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(parts[i]!);
      }
      return { parts: out, c };
    });
  }
  // Fallback: pairs of lowercase letters, then of all printable ASCII (the space first, as "Ġ").
  const letters = 'etaoinshrdlucmfwypvbgkjqxz'.split('');
  const printable = [' ', ...letters, ...Array.from({ length: 94 }, (_, i) => String.fromCharCode(0x21 + i))]
    .filter((c, i, all) => all.indexOf(c) === i)
    .map((c) => b2u[c.charCodeAt(0)]!);
  for (const a of printable) {
    for (const b of printable) {
      if (merges.length >= count) return merges;
      if (known.has(a + b) || b === b2u[0x20]) continue;
      merges.push([a, b]);
      known.add(a + b);
    }
  }
  if (merges.length < count) throw new Error(`vocab too large: only ${merges.length} merges available`);
  return merges;
}

function buildTokenizer(d: Dims): ByteLevelBpe {
  const b2u = bytesToUnicode();
  const specials = d.arch === 'gpt2' ? ['<|endoftext|>'] : ['<s>', '<pad>', '</s>', '<unk>'];
  const merges = learnMerges(d.vocab - 256 - specials.length, b2u);
  const vocab: Record<string, number> = {};
  let id = 0;
  if (d.arch === 'opt') for (const s of specials) vocab[s] = id++;
  for (const b of byteOrder()) vocab[b2u[b]!] = id++;
  for (const [a, b] of merges) vocab[a + b] = id++;
  if (d.arch === 'gpt2') for (const s of specials) vocab[s] = id++;
  if (id !== d.vocab) throw new Error(`internal: tokenizer has ${id} tokens, want ${d.vocab}`);
  return d.arch === 'gpt2'
    ? { vocab, merges, bosId: d.vocab - 1, eosId: d.vocab - 1 }
    : { vocab, merges, bosId: 2, eosId: 2, padId: 1, unkId: 3 };
}

/**
 * Encodes text the way GPT2Tokenizer does (pre-tokenise with GPT-2's pattern, bytes → unicode, apply merges by
 * rank). No special tokens are added and none are recognised in the text.
 */
export function bpeEncode(tok: Pick<ByteLevelBpe, 'vocab' | 'merges'>, text: string): number[] {
  const b2u = bytesToUnicode();
  const rank = new Map(tok.merges.map(([a, b], i) => [`${a} ${b}`, i]));
  const ids: number[] = [];
  for (const m of text.matchAll(GPT2_PAT)) {
    let parts = [...toByteChars(m[0], b2u)];
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = rank.get(`${parts[i]} ${parts[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const [a, b] = tok.merges[bestRank]!;
      const next: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i + 1 < parts.length && parts[i] === a && parts[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(parts[i]!);
      }
      parts = next;
    }
    for (const p of parts) {
      const id = tok.vocab[p];
      if (id === undefined) throw new Error(`token ${JSON.stringify(p)} not in vocab`);
      ids.push(id);
    }
  }
  return ids;
}

/** Decodes ids back to text (special tokens come out as their text). */
export function bpeDecode(tok: Pick<ByteLevelBpe, 'vocab'>, ids: number[]): string {
  const u2b = new Map(bytesToUnicode().map((c, b) => [c, b]));
  const byId = new Map(Object.entries(tok.vocab).map(([t, i]) => [i, t]));
  const bytes: number[] = [];
  for (const id of ids) {
    const t = byId.get(id);
    if (t === undefined) throw new Error(`id ${id} not in vocab`);
    const chars = [...t];
    if (chars.every((c) => u2b.has(c))) for (const c of chars) bytes.push(u2b.get(c)!);
    else bytes.push(...Buffer.from(t, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

// ---------------------------------------------------------------------------------------------------------
// Files

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, 2) + '\n', 'utf8');
}

function gpt2Config(d: Dims, t: ByteLevelBpe): Record<string, unknown> {
  return {
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: 0.1,
    bos_token_id: t.bosId,
    embd_pdrop: 0.1,
    eos_token_id: t.eosId,
    initializer_range: STD,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    n_ctx: d.positions,
    n_embd: d.hidden,
    n_head: d.heads,
    n_inner: d.ffn === 4 * d.hidden ? null : d.ffn,
    n_layer: d.layers,
    n_positions: d.positions,
    reorder_and_upcast_attn: false,
    resid_pdrop: 0.1,
    scale_attn_by_inverse_layer_idx: false,
    scale_attn_weights: true,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: 'cls_index',
    summary_use_proj: true,
    tie_word_embeddings: true,
    torch_dtype: d.dtype === 'BF16' ? 'bfloat16' : 'float32',
    use_cache: true,
    vocab_size: d.vocab,
  };
}

function optConfig(d: Dims, t: ByteLevelBpe): Record<string, unknown> {
  return {
    _remove_final_layer_norm: false,
    activation_dropout: 0.0,
    activation_function: 'relu',
    architectures: ['OPTForCausalLM'],
    attention_dropout: 0.0,
    bos_token_id: t.bosId,
    do_layer_norm_before: true,
    dropout: 0.1,
    enable_bias: true,
    eos_token_id: t.eosId,
    ffn_dim: d.ffn,
    hidden_size: d.hidden,
    init_std: STD,
    layer_norm_elementwise_affine: true,
    layerdrop: 0.0,
    max_position_embeddings: d.positions,
    model_type: 'opt',
    num_attention_heads: d.heads,
    num_hidden_layers: d.layers,
    pad_token_id: t.padId,
    prefix: '</s>',
    tie_word_embeddings: true,
    torch_dtype: d.dtype === 'BF16' ? 'bfloat16' : 'float32',
    use_cache: true,
    vocab_size: d.vocab,
    word_embed_proj_dim: d.hidden,
  };
}

/** tokenizer.json (the `tokenizers` format) of a GPT-2 style byte-level BPE, as in the real gpt2 repo. */
function tokenizerJson(t: ByteLevelBpe, special: string): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: t.vocab[special], content: special, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: t.vocab,
      merges: t.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

function tokenizerFiles(d: Dims, t: ByteLevelBpe): Record<string, Buffer> {
  const files: Record<string, Buffer> = {
    'vocab.json': Buffer.from(JSON.stringify(t.vocab) + '\n', 'utf8'),
    'merges.txt': Buffer.from(['#version: 0.2', ...t.merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n', 'utf8'),
  };
  if (d.arch === 'gpt2') {
    const eot = '<|endoftext|>';
    files['special_tokens_map.json'] = json({ bos_token: eot, eos_token: eot, unk_token: eot });
    files['tokenizer_config.json'] = json({
      add_bos_token: false,
      add_prefix_space: false,
      bos_token: eot,
      clean_up_tokenization_spaces: false,
      eos_token: eot,
      errors: 'replace',
      model_max_length: d.positions,
      tokenizer_class: 'GPT2Tokenizer',
      unk_token: eot,
    });
    files['tokenizer.json'] = json(tokenizerJson(t, eot));
  } else {
    files['special_tokens_map.json'] = json({ bos_token: '</s>', eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>' });
    files['tokenizer_config.json'] = json({
      add_bos_token: true,
      add_prefix_space: false,
      bos_token: '</s>',
      clean_up_tokenization_spaces: false,
      eos_token: '</s>',
      errors: 'replace',
      model_max_length: d.positions,
      pad_token: '<pad>',
      tokenizer_class: 'GPT2Tokenizer',
      unk_token: '<unk>',
    });
  }
  return files;
}

/** Builds a tiny model in memory: every file by name. Pure and deterministic. */
export function tinyModel(opts: TinyModelOptions): TinyModel {
  const d = dims(opts);
  const tok = buildTokenizer(d);
  const config = d.arch === 'gpt2' ? gpt2Config(d, tok) : optConfig(d, tok);
  const specs = tinyModelTensors(opts);
  const inputs: SafetensorsInput[] = specs.map((s) => {
    const v = tensorValues(d.seed, s);
    if (d.dtype === 'BF16') {
      const h = toBf16(v);
      return { ...s, dtype: 'BF16', data: new Uint8Array(h.buffer, h.byteOffset, h.byteLength) };
    }
    return { ...s, dtype: 'F32', data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
  });
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('big-endian hosts are not supported');
  const generation: Record<string, unknown> =
    d.arch === 'gpt2'
      ? { _from_model_config: true, bos_token_id: tok.bosId, eos_token_id: tok.eosId }
      : { _from_model_config: true, bos_token_id: tok.bosId, eos_token_id: tok.eosId, pad_token_id: tok.padId };
  const files: Record<string, Buffer> = {
    'config.json': json(config),
    'generation_config.json': json(generation),
    'model.safetensors': buildSafetensors(inputs, { format: 'pt' }),
    ...tokenizerFiles(d, tok),
  };
  const sorted: Record<string, Buffer> = {};
  for (const k of Object.keys(files).sort()) sorted[k] = files[k]!;
  return { files: sorted, config, tensors: specs, tokenizer: tok };
}

/**
 * Writes a tiny model into `dir` (created if needed): config.json, generation_config.json, model.safetensors,
 * vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json, and for gpt2 tokenizer.json.
 * Returns what was written, with each file's sha256.
 */
export async function writeTinyModel(
  dir: string,
  opts: TinyModelOptions,
): Promise<TinyModel & { dir: string; sha256: Record<string, string> }> {
  const model = tinyModel(opts);
  await mkdir(dir, { recursive: true });
  const sha256: Record<string, string> = {};
  for (const [name, data] of Object.entries(model.files)) {
    await writeFile(join(dir, name), data);
    sha256[name] = createHash('sha256').update(data).digest('hex');
  }
  return { ...model, dir, sha256 };
}
