import { z } from 'zod';

const repoId = z.string().regex(/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/, 'namespace/name, e.g. facebook/opt-125m');

const hubModel = z
  .strictObject({
    repo: repoId.describe('Repository id on the Hub.'),
    revision: z.string().min(1).default('main').describe('Branch, tag or 40-hex commit; locked to the commit.'),
    type: z.enum(['model', 'dataset']).default('model').describe('Repository type.'),
    include: z.array(z.string().min(1)).optional().describe('Only files matching these globs (e.g. "*.safetensors").'),
    exclude: z.array(z.string().min(1)).default([]).describe('Leave out files matching these globs.'),
    license: z.string().optional().describe('SPDX license for the SBOM when the model card has none.'),
  })
  .describe('A repository on the Hub (or a mirror: hf.endpoint / HF_ENDPOINT).');

const localModel = z
  .strictObject({
    repo: repoId.describe('Repository id to install it under.'),
    local: z.string().min(1).describe('An HF cache folder (models--org--name) or a plain folder of model files.'),
    revision: z
      .string()
      .regex(/^[0-9a-f]{40}$/, 'a 40-hex commit')
      .optional()
      .describe("The commit (default: from the cache refs/main, or derived from a plain folder's content)."),
    type: z.enum(['model', 'dataset']).default('model'),
    include: z.array(z.string().min(1)).optional(),
    exclude: z.array(z.string().min(1)).default([]),
    license: z.string().optional(),
  })
  .describe('Model files the release engineer already has.');

export const hfSchema = z
  .strictObject({
    endpoint: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('Hub endpoint (default: $HF_ENDPOINT, else the public Hub).'),
    home: z.string().regex(/^\//).default('/opt/vault-ai/models').describe('HF_HOME on the box.'),
    models: z
      .array(z.union([localModel, hubModel]))
      .min(1)
      .describe('Models (and datasets) pinned to a commit.'),
  })
  .describe('HuggingFace models in the standard cache layout, loadable offline.');

export type HfSpec = z.infer<typeof hfSchema>;
export type HfHubModel = z.infer<typeof hubModel>;
export type HfLocalModel = z.infer<typeof localModel>;
