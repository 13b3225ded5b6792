/**
 * The bench data set: ~200 files of 1 KiB to 500 MiB, deterministic (AES-256-CTR keystream from a fixed seed,
 * one IV per file, so every file differs and nothing compresses or dedupes), and a manifest that pins them.
 * It lives under os.tmpdir() and is reused while its parameters are unchanged: generating 2 GiB costs more than
 * most of the measurements.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
/** Bump when the plan or the content generator changes, so stale data sets are not reused. */
const GENERATOR = 1;

export interface PlannedFile {
  name: string;
  size: number;
}

export interface DataFile extends PlannedFile {
  /** Path relative to the data set folder (and to the manifest, which sits in it). */
  rel: string;
  sha256: string;
}

export interface DataSet {
  dir: string;
  manifest: string;
  files: DataFile[];
  totalBytes: number;
  reused: boolean;
  genMs: number;
}

/** mulberry32: a tiny seeded PRNG, good enough to pick sizes. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The files for `gib` GiB. At the default 2 GiB: 3 × 500 MiB, 6 × 50–100 MiB, 190 small files log-uniform in
 * 1 KiB–1 MiB (the first exactly 1 KiB, the second exactly 1 MiB) and one filler that tops the total up to
 * `gib` GiB. Other sizes scale the large and medium files by gib/2; small files keep their sizes.
 */
export function planFiles(gib: number, seed: number): PlannedFile[] {
  const rnd = prng(seed);
  const scale = gib / 2;
  const big = (bytes: number) => Math.max(MiB, Math.round(bytes * scale));
  const out: PlannedFile[] = [];
  for (let i = 0; i < 3; i++) out.push({ name: `large-${i}`, size: big(500 * MiB) });
  for (let i = 0; i < 6; i++) out.push({ name: `medium-${i}`, size: big((50 + rnd() * 50) * MiB) });
  const lo = Math.log(KiB);
  const hi = Math.log(MiB);
  for (let i = 0; i < 190; i++) {
    const size = i === 0 ? KiB : i === 1 ? MiB : Math.round(Math.exp(lo + rnd() * (hi - lo)));
    out.push({ name: `small-${String(i).padStart(3, '0')}`, size });
  }
  const target = Math.ceil(gib * GiB);
  const sum = out.reduce((s, f) => s + f.size, 0);
  if (sum < target) out.push({ name: 'filler', size: Math.max(KiB, target - sum) });
  return out;
}

/** Writes one file of keystream bytes and returns its sha256. */
function generateFile(path: string, size: number, seed: number, name: string, chunk: Buffer): string {
  const key = createHash('sha256').update(`vault-bench-key:${seed}`).digest();
  const iv = createHash('sha256').update(`vault-bench-iv:${seed}:${name}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  const hash = createHash('sha256');
  const tmp = `${path}.part`;
  const fd = openSync(tmp, 'w');
  try {
    for (let left = size; left > 0;) {
      const n = Math.min(left, chunk.length);
      const data = cipher.update(chunk.subarray(0, n));
      hash.update(data);
      for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return hash.digest('hex');
}

interface Stamp {
  generator: number;
  seed: number;
  gib: number;
  files: DataFile[];
}

/** The data set for these parameters: reused when its stamp matches and every file has its size, else made. */
export function ensureDataSet(root: string, gib: number, seed: number, log: (s: string) => void): DataSet {
  const dir = join(root, `data-${gib}gib-seed${seed}-g${GENERATOR}`);
  const stampPath = join(dir, 'dataset.json');
  const plan = planFiles(gib, seed);
  const t0 = performance.now();
  let files: DataFile[] | undefined;
  let reused = false;
  if (existsSync(stampPath)) {
    try {
      const stamp = JSON.parse(readFileSync(stampPath, 'utf8')) as Stamp;
      const samePlan =
        stamp.generator === GENERATOR &&
        stamp.seed === seed &&
        stamp.gib === gib &&
        stamp.files.length === plan.length &&
        stamp.files.every((f, i) => f.name === plan[i]!.name && f.size === plan[i]!.size);
      const intact = samePlan && stamp.files.every((f) => sizeOf(join(dir, f.rel)) === f.size);
      if (intact) {
        files = stamp.files;
        reused = true;
      }
    } catch {
      files = undefined;
    }
  }
  if (!files) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'files'), { recursive: true });
    const total = plan.reduce((s, f) => s + f.size, 0);
    log(`generating ${plan.length} files, ${(total / GiB).toFixed(2)} GiB, in ${dir}`);
    const chunk = Buffer.alloc(4 * MiB);
    files = [];
    let done = 0;
    let shown = 0;
    for (const p of plan) {
      const rel = `files/${p.name}.bin`;
      const sha256 = generateFile(join(dir, rel), p.size, seed, p.name, chunk);
      files.push({ ...p, rel, sha256 });
      done += p.size;
      if (done - shown >= total / 10 || done === total) {
        shown = done;
        log(`  ${((100 * done) / total).toFixed(0)}%`);
      }
    }
    const stamp: Stamp = { generator: GENERATOR, seed, gib, files };
    writeFileSync(stampPath, `${JSON.stringify(stamp, null, 1)}\n`);
  }
  const manifest = join(dir, 'manifest.yaml');
  writeFileSync(manifest, manifestYaml(gib, files));
  return {
    dir,
    manifest,
    files,
    totalBytes: files.reduce((s, f) => s + f.size, 0),
    reused,
    genMs: performance.now() - t0,
  };
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}

function manifestYaml(gib: number, files: DataFile[]): string {
  const lines = [
    '# Generated by bench/run.ts: deterministic files pinned by sha256.',
    'name: bench',
    'version: 1.0.0',
    `description: vault-bundle bench data set (${gib} GiB, ${files.length} files)`,
    'target:',
    '  os: ubuntu-24.04',
    '  arch: amd64',
    'files:',
  ];
  for (const f of files) {
    lines.push(`  - name: ${f.name}`, `    path: ${f.rel}`, `    sha256: ${f.sha256}`);
  }
  return `${lines.join('\n')}\n`;
}
