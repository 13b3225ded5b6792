/** A byte-level BPE tokenizer learnt from a small corpus, as GPT-2's tokenizer files describe it. */
import type { ByteLevelBpe, Dims } from './model.js';

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

export function buildTokenizer(d: Dims): ByteLevelBpe {
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
  return d.arch === 'gpt2' ? { vocab, merges, bosId: d.vocab - 1, eosId: d.vocab - 1 } : { vocab, merges, bosId: 2, eosId: 2, padId: 1, unkId: 3 };
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
