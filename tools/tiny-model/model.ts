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

export const STD = 0.02;

export interface Dims {
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

export function dims(o: TinyModelOptions): Dims {
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

export function tensorValues(seed: number, spec: TensorSpec): Float32Array {
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
export function toBf16(f: Float32Array): Uint16Array {
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
