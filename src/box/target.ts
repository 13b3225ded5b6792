import { z } from 'zod';

/** The box a bundle is for, as the manifest names it; below both the manifest and the sources, which read it. */
export const targetSchema = z
  .strictObject({
    os: z
      .string()
      .regex(/^[a-z]+-[0-9][0-9.]*$/, 'distro-version, e.g. "ubuntu-24.04" or "debian-12"')
      .describe('Distribution and release of the box.'),
    arch: z.enum(['amd64', 'arm64']).describe('Debian architecture name of the box.'),
    python: z
      .string()
      .regex(/^3\.\d+$/, 'major.minor, e.g. "3.12"')
      .optional()
      .describe("The box's Python version (major.minor)."),
  })
  .describe('The box the bundle is for.');

export type Target = z.infer<typeof targetSchema>;
