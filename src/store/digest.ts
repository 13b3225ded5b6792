/** An OCI-style content digest: `sha256:<64 lower-case hex>`. */
export type Digest = `sha256:${string}`;

const HEX64 = /^[0-9a-f]{64}$/;

/** Whether a name is a blob's own name in the store (64 lower-case hex): `cache verify` and `gc` skip the rest. */
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
