import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildTokenizer } from './bpe.js';
import { type ByteLevelBpe, type Dims, STD, type TinyModel, type TinyModelOptions, dims, tensorValues, tinyModelTensors, toBf16 } from './model.js';
import { type SafetensorsInput, buildSafetensors } from './safetensors.js';

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
    added_tokens: [{ id: t.vocab[special], content: special, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
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
export async function writeTinyModel(dir: string, opts: TinyModelOptions): Promise<TinyModel & { dir: string; sha256: Record<string, string> }> {
  const model = tinyModel(opts);
  await mkdir(dir, { recursive: true });
  const sha256: Record<string, string> = {};
  for (const [name, data] of Object.entries(model.files)) {
    await writeFile(join(dir, name), data);
    sha256[name] = createHash('sha256').update(data).digest('hex');
  }
  return { ...model, dir, sha256 };
}
