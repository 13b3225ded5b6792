import { z } from 'zod';

const systemEntry = z
  .strictObject({
    system: z.literal(true).describe("Reuse this host's apt sources and keyrings (/etc/apt)."),
    components: z.array(z.string().min(1)).optional().describe('Replace the components of every system source (e.g. add contrib non-free non-free-firmware).'),
    suites: z.array(z.string().min(1)).optional().describe('Keep only these suites of the system sources.'),
    'check-valid-until': z.boolean().optional().describe('false accepts an expired Release (snapshot archives).'),
    'check-date': z
      .boolean()
      .optional()
      .describe("false accepts a Release dated more than 10 s ahead of this machine's clock, and skips the Valid-Until check (apt's Check-Date)."),
  })
  .describe("The host's own apt sources.");

const repoEntry = z
  .strictObject({
    uri: z.url({ protocol: /^(https?|file)$/ }).describe('Repository base URI (as in sources.list).'),
    suites: z.array(z.string().min(1)).min(1).describe('Suites (codenames), or ["/"] (a path ending in /) for a flat repository such as NVIDIA\'s.'),
    components: z.array(z.string().min(1)).default([]).describe('Components; empty for a flat repository.'),
    'signed-by': z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .describe('Keyring file(s) (.gpg or .asc, relative to the manifest) and/or key fingerprints.'),
    'check-valid-until': z.boolean().optional().describe('false accepts an expired Release (snapshot archives).'),
    'check-date': z
      .boolean()
      .optional()
      .describe("false accepts a Release dated more than 10 s ahead of this machine's clock, and skips the Valid-Until check (apt's Check-Date)."),
    pin: z.int().optional().describe('apt pin priority of this source (default 500).'),
  })
  .describe('A signed Debian-format repository.');

export const aptSchema = z
  .strictObject({
    sources: z
      .union([z.literal('system'), z.array(z.union([systemEntry, repoEntry])).min(1)])
      .describe('"system", or a list of repositories (and/or {system: true}).'),
    packages: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9+.-]*(:[a-z0-9-]+)?(=[A-Za-z0-9.+:~-]+)?$/, 'name, name:arch or name=version'))
      .min(1)
      .superRefine((pkgs, ctx) => {
        // apt-get would take the last of two pins silently; a manifest that pins twice means one of them.
        const seen = new Map<string, string>();
        pkgs.forEach((p, i) => {
          const name = p.split('=')[0]!;
          const prev = seen.get(name);
          if (prev !== undefined) ctx.addIssue({ code: 'custom', path: [i], message: `${name} is listed twice ("${prev}" and "${p}"): keep one` });
          else seen.set(name, p);
        });
      })
      .describe('Packages to install on the box, as apt-get install takes them.'),
    exclude: z.array(z.string().min(1)).default([]).describe('Packages never bundled (assumed present on the box).'),
    recommends: z.boolean().default(true).describe('Follow Recommends, as apt does by default.'),
    'target-status': z.string().min(1).optional().describe("The box's /var/lib/dpkg/status: only what the box lacks is bundled. Default: an empty box."),
    architectures: z.array(z.string().min(1)).optional().describe('Default: the target architecture.'),
    licences: z
      .enum(['per-source', 'every-package'])
      .optional()
      .describe(
        "How build reads the SBOM's licences from the .debs' usr/share/doc/<pkg>/copyright. per-source (default): one .deb per source package and version (the smallest), its siblings named as sharing that file (Debian installs one debian/copyright into every binary of a source); every-package: every .deb (slower: a CUDA .deb's data.tar is decompressed up to its doc folder).",
      ),
  })
  .describe('Debian packages with their full dependency closure, from signed apt repositories.');

export type AptSpec = z.infer<typeof aptSchema>;
export type AptLicenceMode = NonNullable<AptSpec['licences']>;
export type AptRepoEntry = z.infer<typeof repoEntry>;
