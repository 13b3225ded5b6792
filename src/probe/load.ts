import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { BuildCtx } from '../sources/source.js';
import type { Target } from '../box/target.js';
import { type Digest, digestOf } from '../store/digest.js';
import { ProbeError, errnoCode } from '../util/errors.js';
import { decodeStatus } from './dpkg.js';
import { type BoxProbe, PROBE_SCHEMA, probeSchema } from '../box/probe.js';

/** What a lock and bundle.json record of the box they were made for. */
export interface ProbeRef {
  /** sha256 of the probe file: `sha256sum box.json` on the box gives the same. */
  digest: Digest;
  /** Digest of the facts resolution reads (OS, arch, dpkg status, python and tags, venv, HF cache). */
  inputsDigest: Digest;
  hostname: string;
  /** When the probe was taken. */
  created: string;
}

export interface LoadedProbe {
  path: string;
  probe: BoxProbe;
  ref: ProbeRef;
}

const sha = (data: string | Uint8Array): Digest => digestOf(createHash('sha256').update(data).digest('hex'));

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/**
 * Digest of what `build --target` reads from a probe. Its time, kernel, GPUs and installed-bundle list are
 * left out: probing the same unchanged box again keeps its locks fresh; a box with another package set,
 * Python, venv or model cache makes them stale.
 */
export function probeInputsDigest(p: BoxProbe): Digest {
  const inputs = {
    schema: p.schema,
    os: p.os.present ? p.os.target : null,
    arch: p.arch.debian,
    dpkg: p.dpkg.present ? p.dpkg.sha256 : null,
    python: p.python.present ? { version: p.python.version, implementation: p.python.implementation, abi: p.python.abi, tags: p.python.tags } : null,
    venv: p.venv.present ? { path: p.venv.path, distributions: p.venv.distributions } : null,
    hf: p.hf.present ? { home: p.hf.home, repos: p.hf.repos } : null,
  };
  return sha(JSON.stringify(canonical(inputs)));
}

/** Reads and validates a probe file; errors name the file and the field. */
export async function loadProbe(path: string): Promise<LoadedProbe> {
  let bytes: Buffer;
  try {
    const size = (await stat(path)).size;
    if (size > MAX_PROBE_BYTES) {
      throw new ProbeError({
        code: 'PROBE_READ',
        message: `${path}: ${size} bytes; a probe file is well under ${MAX_PROBE_BYTES / 1024 ** 2} MiB`,
        subject: path,
        hint: 'give the box.json written by "vault-bundle probe"',
      });
    }
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof ProbeError) throw err;
    throw new ProbeError({
      code: 'PROBE_READ',
      message: `cannot read probe file ${path}: ${errnoCode(err) === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      subject: path,
      hint: 'run "./vault-bundle probe --out box.json" on the box and copy box.json here',
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ProbeError({
      code: 'PROBE_READ',
      message: `${path} is not valid JSON (${(err as Error).message})`,
      subject: path,
      hint: 'copy the probe file again from the box; it must be the file "vault-bundle probe" wrote, unedited',
    });
  }
  const schema = (data as { schema?: unknown } | null)?.schema;
  if (schema !== PROBE_SCHEMA) {
    throw new ProbeError({
      code: 'PROBE_FIELD',
      message: `${path}: schema: expected "${PROBE_SCHEMA}", found ${JSON.stringify(schema ?? null)}`,
      subject: `${path}: schema`,
      hint: 'give the file "vault-bundle probe" wrote on the box (not a manifest, lock or bundle.json)',
    });
  }
  const r = probeSchema.safeParse(data);
  if (!r.success) {
    const i = r.error.issues[0]!;
    const field = i.path.map((p, n) => (typeof p === 'number' ? `[${p}]` : n === 0 ? String(p) : `.${String(p)}`)).join('') || '(top level)';
    throw new ProbeError({
      code: 'PROBE_FIELD',
      message: `${path}: ${field}: ${i.message}`,
      subject: `${path}: ${field}`,
      hint: 'the probe was edited or cut short; run "vault-bundle probe" on the box again',
    });
  }
  const probe = r.data;
  if (probe.dpkg.present) {
    let text: string;
    try {
      text = decodeStatus(probe.dpkg.status);
    } catch (err) {
      throw new ProbeError({
        code: 'PROBE_FIELD',
        message: `${path}: dpkg.status: not gzip+base64 (${(err as Error).message})`,
        subject: `${path}: dpkg.status`,
        hint: 'copy the probe file again from the box',
      });
    }
    if (sha(text) !== digestOf(probe.dpkg.sha256)) {
      throw new ProbeError({
        code: 'PROBE_FIELD',
        message: `${path}: dpkg.status does not match dpkg.sha256`,
        subject: `${path}: dpkg.status`,
        hint: 'the file was changed after the probe; copy it again from the box',
      });
    }
    decoded.set(probe, text);
  }
  return { path, probe, ref: { digest: sha(bytes), inputsDigest: probeInputsDigest(probe), hostname: probe.hostname, created: probe.created } };
}

/**
 * A probe of another kind of box than the manifest's target is refused: its dpkg status, Python tags and
 * venv would be read against the wrong distribution. Facts the probe could not read are not compared.
 */
export function checkProbeTarget(l: LoadedProbe, target: Target, manifestPath: string): void {
  const p = l.probe;
  const mismatch = (field: string, box: string, want: string, hint: string) =>
    new ProbeError({
      code: 'PROBE_MISMATCH',
      message: `${l.path}: ${field}: the box (${p.hostname}) has ${box}, ${manifestPath} targets ${want}`,
      subject: `${l.path}: ${field}`,
      hint,
    });
  if (p.os.present && p.os.target !== target.os) {
    throw mismatch('os', p.os.target, target.os, `set target.os: ${p.os.target} in the manifest, or probe the box the bundle is for`);
  }
  if (p.arch.debian !== target.arch) {
    throw mismatch('arch', p.arch.debian, target.arch, `set target.arch: ${p.arch.debian} in the manifest, or probe the box the bundle is for`);
  }
  if (target.python && p.python.present) {
    const boxPy = /^\d+\.\d+/.exec(p.python.version)![0];
    if (boxPy !== target.python) {
      throw mismatch(
        'python.version',
        `Python ${p.python.version} (${p.python.path})`,
        `Python ${target.python}`,
        `set target.python: "${boxPy}" in the manifest, or give the venv the bundle is for with "vault-bundle probe --venv"`,
      );
    }
  }
}

/**
 * The build context for a probed box: the probe itself, and its dpkg status decoded once here, so that apt
 * resolves against it through the context instead of reaching up into the probe.
 */
export function withBox(ctx: BuildCtx, box: BoxProbe): BuildCtx {
  const status = probeDpkgStatus(box);
  return { ...ctx, box, ...(status === undefined ? {} : { boxDpkgStatus: status }) };
}

/** The box's reduced dpkg status as text (loadProbe has checked its digest). */
export function probeDpkgStatus(p: BoxProbe): string | undefined {
  return p.dpkg.present ? (decoded.get(p) ?? decodeStatus(p.dpkg.status)) : undefined;
}

/** The status text loadProbe already inflated and checked, so resolution does not inflate it again. */
const decoded = new WeakMap<BoxProbe, string>();
/** A real probe is under 100 KB (the H200 box's: 77 KB). */
const MAX_PROBE_BYTES = 16 * 1024 * 1024;
