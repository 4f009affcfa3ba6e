/** `audit:` — the tamper-evident log (lib/audit/): the worker's checkpoint key and the keys verifiers trust. */
import { z } from 'zod';
import { secretRef } from './config-target.js';

export const auditSchema = z
  .object({
    key: secretRef
      .optional()
      .describe('Ed25519 seed (32 bytes, base64 or hex) the worker signs checkpoints with; never stored in the database. Without it checkpoints are unsigned'),
    publicKeys: z
      .array(z.string().min(1))
      .default([])
      .describe('Audit public keys (base64) `audit verify` trusts, old ones included; the key above counts when readable'),
    archive: z.boolean().default(true).describe("Archive each closed incident's history (and its children's) into Firebreak's database"),
  })
  .strict();
