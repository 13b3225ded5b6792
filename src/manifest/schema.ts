import { z } from 'zod';
import { sources } from '../sources/registry.js';
import { type Target, targetSchema } from '../box/target.js';

const semver =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

const base = {
  $schema: z.string().optional().describe('Path or URL of this JSON Schema (for editors).'),
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits and . _ - (it names the bundle folder)')
    .describe('Bundle name.'),
  version: z.string().regex(semver, 'a semantic version such as 1.2.0').describe('Bundle version (semver).'),
  description: z.string().optional().describe('One line for people.'),
  target: targetSchema,
};

const sections = Object.fromEntries(sources.map((s) => [s.section, (s.schema as z.ZodType).optional()]));

export const manifestSchema = z.strictObject({ ...base, ...sections }).describe('A vault-bundle manifest: what goes into one offline bundle.');

export type Manifest = {
  name: string;
  version: string;
  description?: string;
  target: Target;
} & Record<string, unknown>;

/** JSON Schema of the manifest, generated from the same definitions that validate it. */
export function manifestJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(manifestSchema, { target: 'draft-2020-12', io: 'input' });
}
