/** How long Firebreak keeps its own records in a target (undo records, publish and deploy records). */
export const RECORD_TTL_SECONDS = 30 * 24 * 3600;
