import { z } from 'zod';

export const pipSchema = z
  .strictObject({
    'index-url': z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('Simple repository (PEP 503/691); default: PyPI.'),
    'extra-index-urls': z
      .array(z.url({ protocol: /^https?$/ }))
      .default([])
      .describe("More indexes, e.g. PyTorch's CUDA wheels."),
    'no-index': z.boolean().default(false).describe('Use find-links only.'),
    'find-links': z.array(z.string().min(1)).default([]).describe('Local folders of wheels (relative to the manifest).'),
    python: z
      .string()
      .regex(/^3\.\d+$/, 'major.minor, e.g. "3.12"')
      .optional()
      .describe('Target Python (default: target.python).'),
    implementation: z.enum(['cp', 'pp']).default('cp').describe('Target interpreter implementation.'),
    abi: z.string().optional().describe('Target ABI tag (default cp<version>).'),
    glibc: z
      .string()
      .regex(/^2\.\d+$/, 'e.g. "2.39"')
      .default('2.39')
      .describe('Target glibc (manylinux tags up to it).'),
    platforms: z.array(z.string().min(1)).optional().describe('Explicit platform tags, most preferred first (overrides glibc).'),
    requirements: z.string().min(1).optional().describe('A requirements file with == pins and optional --hash.'),
    packages: z.array(z.string().min(1)).default([]).describe('Requirements inline, e.g. "transformers==4.46.3".'),
    'allow-sdist': z.boolean().default(false).describe('Reserved: sdists are refused (they need build tools on the box).'),
    venv: z.string().regex(/^\//, 'an absolute path on the box').default('/opt/vault-ai/venv').describe('Virtual environment on the box.'),
  })
  .describe('Python wheels for the box, hash-pinned with their full closure.');

export type PipSpec = z.infer<typeof pipSchema>;
