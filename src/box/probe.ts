import { z } from 'zod';

/**
 * The probe file: what `vault-bundle probe` read on a box, so that `build --target <probe>` bundles only what
 * that box lacks. Every section is a fact that is either `present: true` with its data, or `present: false`
 * with the reason it could not be read (a missing tool or file is data, never a crash). Sections are plain
 * objects (unknown keys are dropped), so a newer probe with added fields still loads here.
 */
export const PROBE_SCHEMA = 'vault-bundle-probe/v1';

const absent = z.object({ present: z.literal(false), reason: z.string().min(1) });

function fact<S extends z.ZodRawShape>(shape: S) {
  return z.discriminatedUnion('present', [z.object({ present: z.literal(true), ...shape }), absent]);
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits');

export const probeSchema = z.object({
  schema: z.literal(PROBE_SCHEMA),
  tool: z.object({ name: z.string(), version: z.string() }),
  created: z.iso.datetime(),
  hostname: z.string(),
  /** /etc/os-release; `target` is the manifest's spelling (`ubuntu-24.04`). */
  os: fact({
    id: z.string().min(1),
    versionId: z.string(),
    target: z.string().min(1),
    prettyName: z.string().optional(),
    codename: z.string().optional(),
  }),
  /** uname(2): release (`uname -r`), version (`uname -v`). */
  kernel: z.object({ release: z.string(), version: z.string() }),
  /** process.arch, `uname -m`, and the Debian name (`dpkg --print-architecture`, else mapped from uname -m). */
  arch: z.object({ node: z.string(), machine: z.string(), debian: z.string().min(1) }),
  /**
   * /var/lib/dpkg/status reduced to its installed stanzas and the fields apt's resolver reads, as deb822 text:
   * gzip, then base64 (`jq -r .dpkg.status box.json | base64 -d | gunzip` shows it). `sha256` is of that text.
   */
  dpkg: fact({
    path: z.string(),
    packages: z.int().nonnegative(),
    sha256: hex64,
    encoding: z.literal('gzip+base64'),
    status: z.string(),
  }),
  /** The interpreter pip would use on the box (the venv's, else python3) and the wheel tags it accepts. */
  python: fact({
    path: z.string(),
    version: z.string().regex(/^\d+\.\d+/, 'X.Y.Z'),
    implementation: z.string().min(1),
    abi: z.array(z.string()),
    glibc: z.string().optional(),
    machine: z.string(),
    /** Most preferred first, as the box's pip (or packaging, or vault-bundle's own tag code) lists them. */
    tags: z.array(z.string()).min(1),
    tagsFrom: z.enum(['pip', 'packaging', 'vault-bundle']),
  }),
  /** The target virtual environment and every distribution installed in it (importlib.metadata). */
  venv: fact({
    path: z.string(),
    python: z.string(),
    distributions: z.array(z.object({ name: z.string().min(1), version: z.string().min(1) })),
  }),
  /** `nvidia-smi --query-gpu=name,driver_version,memory.total`, and the CUDA version of the driver (header). */
  gpus: fact({
    devices: z.array(z.object({ name: z.string(), driverVersion: z.string(), memoryMiB: z.number().optional() })),
    cudaDriver: z.string().optional(),
  }),
  /** The CUDA toolkit: /usr/local/cuda/version.json. */
  cuda: fact({ path: z.string(), version: z.string() }),
  /** The HF cache under HF_HOME: repositories, refs and the files each snapshot really has. */
  hf: fact({
    home: z.string(),
    repos: z.array(
      z.object({
        repo: z.string(),
        type: z.enum(['model', 'dataset']),
        refs: z.record(z.string(), z.string()),
        snapshots: z.array(z.object({ commit: z.string(), files: z.array(z.string()) })),
      }),
    ),
  }),
  /** Bundles installed by vault-bundle (its journal.jsonl), last install of each name and version. */
  bundles: fact({
    journal: z.string(),
    installed: z.array(z.object({ name: z.string(), version: z.string(), installedAt: z.string(), path: z.string().optional() })),
  }),
  /** /etc/vault-ai/image-version.json as install wrote it (optional: probes of older versions lack it). */
  imageVersion: fact({ file: z.string(), stamp: z.looseObject({ version: z.string(), bundle: z.string() }) }).optional(),
  /** The box trust policy (/etc/vault-ai/trust/): its release keys' fingerprints and require-signature. Absent in older probes. */
  trust: fact({
    root: z.string(),
    requireSignature: z.boolean(),
    keys: z.array(z.object({ file: z.string(), fingerprints: z.array(z.string()) })),
  }).optional(),
});

export type BoxProbe = z.infer<typeof probeSchema>;
export type Fact<K extends keyof BoxProbe> = BoxProbe[K];
/** The data of a present fact. */
export type Present<K extends keyof BoxProbe> = Extract<BoxProbe[K], { present: true }>;

export function absentFact(reason: string): { present: false; reason: string } {
  return { present: false, reason };
}

/** Stable JSON for the probe file: two-space indent, trailing newline. */
export function serializeProbe(p: BoxProbe): string {
  return `${JSON.stringify(p, null, 2)}\n`;
}
