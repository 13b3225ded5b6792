import { join } from 'node:path';
import type { Locked } from '../sources/source.js';
import { repoFolder } from '../sources/hf/paths.js';

/** A model in an HF cache tree: `<home>/hub/models--org--name/snapshots/<commit>/…`. */
export interface ModelRef {
  repo: string;
  commit: string;
  /** HF_HOME holding it. */
  home: string;
  files?: string[];
}

export const DEFAULT_HF_HOME = '/opt/vault-ai/models';

/** The snapshot folder of a model: a local path, so nothing ever asks the hub. */
export function snapshotDir(m: ModelRef): string {
  return join(m.home, 'hub', repoFolder('model', m.repo), 'snapshots', m.commit);
}

/** Every HF model (not dataset) of a bundle, with the HF_HOME the installer put it under. */
export function modelsFromArtifacts(artifacts: readonly Locked[], env: NodeJS.ProcessEnv = process.env): ModelRef[] {
  const byKey = new Map<string, ModelRef>();
  for (const a of artifacts) {
    const m = a.meta;
    if (a.kind !== 'hf' || !m?.repo || !m.commit || m.type === 'dataset') continue;
    const home = m.home ?? env.VAULT_HF_HOME ?? DEFAULT_HF_HOME;
    const key = `${home}\0${m.repo}\0${m.commit}`;
    const ref = byKey.get(key) ?? { repo: m.repo, commit: m.commit, home, files: [] };
    if (m.path) ref.files!.push(m.path);
    byKey.set(key, ref);
  }
  return [...byKey.values()].sort((a, b) => a.repo.localeCompare(b.repo));
}

/**
 * What a bundle says about the box it is for: the NVIDIA driver branch its apt packages pin
 * (nvidia-driver-580, libnvidia-compute-580-server…).
 */
export function expectationsFromArtifacts(artifacts: readonly Locked[]): { driverBranch?: string } {
  for (const a of artifacts) {
    if (a.kind !== 'apt') continue;
    const m =
      /^(?:nvidia-driver|libnvidia-compute|nvidia-dkms|nvidia-kernel-common|nvidia-utils|nvidia-compute-utils)-(\d{3})(?:-open|-server|-server-open)?$/.exec(
        a.name,
      );
    if (m) return { driverBranch: m[1]! };
  }
  return {};
}
