import { resolve } from 'node:path';
import { DEFAULT_VENV, collectProbe } from './collect.js';
import { type BoxProbe, serializeProbe } from '../box/probe.js';
import type { Exec } from '../sources/source.js';
import { besideBundle, insideBundleWarning } from '../util/beside.js';
import { writeFileAtomic } from '../util/fs.js';

export interface ProbeOptions {
  /** Default: box.json here, or beside the bundle folder when run from inside one (verify would refuse it there). */
  out?: string;
  venv?: string;
  hfHome?: string;
  stateDir?: string;
  /** The image-version stamp to read (default /etc/vault-ai/image-version.json). */
  imageVersion?: string;
  exec: Exec;
}

export interface ProbeResult {
  path: string;
  bytes: number;
  probe: BoxProbe;
  summary: string;
  /** Facts that could not be read, with the reason. */
  absent: Record<string, string>;
  /** An --out inside a bundle folder. */
  warnings: string[];
}

/** Reads this box and writes the probe file (atomically) that `build --target` takes. */
export async function writeProbe(o: ProbeOptions): Promise<ProbeResult> {
  const probe = await collectProbe({
    exec: o.exec,
    ...(o.venv ? { venv: resolve(o.venv) } : {}),
    ...(o.hfHome ? { hfHome: resolve(o.hfHome) } : {}),
    ...(o.stateDir ? { stateDirs: [resolve(o.stateDir)] } : {}),
    ...(o.imageVersion ? { files: { imageVersion: resolve(o.imageVersion) } } : {}),
  });
  const path = resolve(o.out ?? besideBundle('box.json'));
  const warning = o.out ? insideBundleWarning(o.out, 'the probe') : undefined;
  const text = serializeProbe(probe);
  await writeFileAtomic(path, text);
  const absent: Record<string, string> = {};
  for (const [k, v] of Object.entries(probe)) {
    if (v && typeof v === 'object' && 'present' in v && v.present === false) absent[k] = (v as { reason: string }).reason;
  }
  return { path, bytes: Buffer.byteLength(text), probe, summary: summarize(probe, o.venv ?? DEFAULT_VENV), absent, warnings: warning ? [warning] : [] };
}

/** A few lines for the field tech: what was read, and what was not and why. */
export function summarize(p: BoxProbe, venv: string): string {
  const line = (what: string, f: { present: boolean; reason?: string }, text: () => string) =>
    `  ${what.padEnd(8)} ${f.present ? text() : `absent: ${f.reason}`}`;
  return [
    `${p.hostname}: ${p.os.present ? (p.os.prettyName ?? p.os.target) : 'unknown OS'}, ${p.arch.debian}, kernel ${p.kernel.release}`,
    line('dpkg', p.dpkg, () => (p.dpkg.present ? `${p.dpkg.packages} installed packages` : '')),
    line('python', p.python, () =>
      p.python.present ? `${p.python.version} (${p.python.path}), ${p.python.tags.length} wheel tags from ${p.python.tagsFrom}` : '',
    ),
    line('venv', p.venv, () => (p.venv.present ? `${p.venv.path}: ${p.venv.distributions.length} distributions` : venv)),
    line('gpus', p.gpus, () =>
      p.gpus.present
        ? p.gpus.devices.length
          ? `${p.gpus.devices.length} × ${[...new Set(p.gpus.devices.map((d) => d.name))].join(', ')}, driver ${p.gpus.devices[0]!.driverVersion}${p.gpus.cudaDriver ? `, CUDA ${p.gpus.cudaDriver}` : ''}`
          : 'nvidia-smi lists no GPU'
        : '',
    ),
    line('cuda', p.cuda, () => (p.cuda.present ? `toolkit ${p.cuda.version}` : '')),
    line('models', p.hf, () => (p.hf.present ? `${p.hf.repos.length} repositories in ${p.hf.home}` : '')),
    line('bundles', p.bundles, () => (p.bundles.present ? p.bundles.installed.map((b) => `${b.name} ${b.version}`).join(', ') || 'none installed' : '')),
    ...(p.trust
      ? [
          line('trust', p.trust, () =>
            p.trust?.present
              ? `${p.trust.root}: require-signature ${p.trust.requireSignature}; keys ${p.trust.keys.map((k) => `${k.file} (${k.fingerprints.join(', ') || 'not a key'})`).join(', ') || 'none'}`
              : '',
          ),
        ]
      : []),
  ].join('\n');
}
