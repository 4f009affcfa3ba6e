/**
 * Where a listener's work after its ack begins. Awaiting a macrotask lets the event loop finish
 * reading and acking the other requests already waiting before this one's follow-up work
 * (users.info, signing, Temporal, Block Kit) takes the loop: under a burst, every ack goes out
 * first, and none waits behind another request's work.
 */
import { setImmediate } from 'node:timers/promises';

export const afterAck = (): Promise<void> => setImmediate().then(() => undefined);
