import ssri from 'ssri';

/** An OCI-style content digest: `sha256:<64 lower-case hex>`. */
export type Digest = `sha256:${string}`;

const HEX64 = /^[0-9a-f]{64}$/;

export function isSha256Hex(s: string): boolean {
  return HEX64.test(s);
}

export function digestOf(hex: string): Digest {
  const h = hex.toLowerCase();
  if (!HEX64.test(h)) throw new TypeError(`not a sha256 hex digest: ${hex}`);
  return `sha256:${h}`;
}

export function hexOf(d: Digest): string {
  return d.slice('sha256:'.length);
}

export function parseDigest(s: string): Digest | undefined {
  const m = /^sha256:([0-9a-f]{64})$/.exec(s);
  return m ? (s as Digest) : undefined;
}

/** The Subresource Integrity form npm tools use (`sha256-<base64>`), for interop with ssri/cacache. */
export function toSri(d: Digest): string {
  return ssri.fromHex(hexOf(d), 'sha256').toString();
}
