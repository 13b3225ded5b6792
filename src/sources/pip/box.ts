import { ManifestError } from '../../util/errors.js';
import type { BuildCtx, Locked } from '../source.js';
import type { TargetEnvOptions } from './markers.js';
import { normalizeName, normalizeVersion } from './pep440.js';
import type { PipSpec } from './schema.js';

/**
 * With a probed box (`--target`): its interpreter's own wheel tags, most preferred first, instead of tags
 * computed from target.python and glibc, and its full version and kernel for environment markers. A probe of
 * another Python than the one pip targets is refused.
 */
export function boxPython(ctx: BuildCtx, python: string): { tags: string[]; env: Omit<TargetEnvOptions, 'platform'> } | undefined {
  const py = ctx.box?.python;
  if (!py?.present) return undefined;
  const minor = /^\d+\.\d+/.exec(py.version)![0];
  if (minor !== python) {
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `${ctx.manifestPath}: pip targets Python ${python}, the probed box (${ctx.box!.hostname}) runs ${py.version} (${py.path})`,
      subject: 'pip.python',
      hint: `set pip.python (or target.python) to "${minor}", or probe with the venv the bundle is for (vault-bundle probe --venv)`,
    });
  }
  return {
    tags: py.tags,
    env: {
      python: /^\d+\.\d+\.\d+$/.test(py.version) ? py.version : python,
      machine: py.machine,
      release: ctx.box!.kernel.release,
      kernelVersion: ctx.box!.kernel.version,
    },
  };
}

function version(v: string): string {
  try {
    return normalizeVersion(v);
  } catch {
    return v;
  }
}

/**
 * Leaves out the wheels whose distribution the probed venv already has at exactly the locked version (so
 * requirements.lock and the SBOM do not list them either); pip on the box finds them installed. Only the
 * venv the manifest installs into counts.
 */
export function leaveOutInstalled(items: Locked[], spec: PipSpec, ctx: BuildCtx): Locked[] {
  const venv = ctx.box?.venv;
  if (!ctx.box || !venv) return items;
  if (!venv.present) {
    ctx.report({ type: 'info', message: `pip: the probe of ${ctx.box.hostname} has no venv (${venv.reason}); every wheel is bundled` });
    return items;
  }
  if (venv.path !== spec.venv) {
    ctx.report({
      type: 'warn',
      message: `pip: the probe read the venv ${venv.path}, the manifest installs into ${spec.venv}; every wheel is bundled`,
      subject: 'pip.venv',
    });
    return items;
  }
  const installed = new Map(venv.distributions.map((d) => [normalizeName(d.name), version(d.version)]));
  const kept = items.filter((i) => installed.get(normalizeName(i.name)) !== version(i.version));
  const left = items.filter((i) => !kept.includes(i)).map((i) => `${i.name}==${i.version}`);
  if (left.length) ctx.report({ type: 'info', message: `pip: ${venv.path} on ${ctx.box.hostname} already has ${left.join(', ')}; left out` });
  return kept;
}
