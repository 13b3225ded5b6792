import { OciError } from './errors.js';

/** A registry reference: `[oci://]registry[:port]/repository[:tag][@sha256:hex]`. */
export interface OciRef {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const REPO = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

function bad(input: string, why: string): OciError {
  return new OciError({
    code: 'OCI_REF',
    message: `not a registry reference: "${input}" (${why})`,
    subject: input,
    hint: 'write it as oci://registry.example:5000/team/bundle:1.0 (or …@sha256:<hex>); the registry host comes first',
  });
}

export function isRegistryRef(s: string): boolean {
  return s.startsWith('oci://');
}

/** `oci:DIR[:tag]` (skopeo's name for an OCI image layout), but not `oci://`. */
export function isLayoutRef(s: string): boolean {
  return s.startsWith('oci:') && !s.startsWith('oci://');
}

export function parseLayoutRef(s: string): { dir: string; tag?: string } {
  const rest = s.slice('oci:'.length);
  const i = rest.lastIndexOf(':');
  if (i > 0 && TAG.test(rest.slice(i + 1)) && !rest.slice(i + 1).includes('/')) return { dir: rest.slice(0, i), tag: rest.slice(i + 1) };
  return { dir: rest };
}

export function parseRef(input: string): OciRef {
  const s = input.startsWith('oci://') ? input.slice(6) : input;
  const slash = s.indexOf('/');
  if (slash <= 0) throw bad(input, 'no registry host');
  const registry = s.slice(0, slash);
  if (!/^[A-Za-z0-9.-]+(?::\d+)?$|^\[[0-9a-fA-F:]+\](?::\d+)?$/.test(registry)) throw bad(input, `"${registry}" is not a host[:port]`);
  let rest = s.slice(slash + 1);
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(input, 'the digest must be sha256:<64 hex>');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(input, `"${tag}" is not a valid tag`);
  }
  if (!REPO.test(rest)) throw bad(input, `"${rest}" is not a repository name (lower case, digits, . _ - and /)`);
  return { registry, repository: rest, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The tag or digest a manifest is fetched or pushed under. */
export function refTarget(r: OciRef): string {
  return r.digest ?? r.tag ?? 'latest';
}

export function refString(r: OciRef): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** Loopback hosts: plain HTTP is used there without asking (as docker and skopeo treat localhost). */
export function isLoopback(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
