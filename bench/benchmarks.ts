/** Every benchmark `npm run bench` knows, in the order they run. Add new ones here. */
import { approve } from './approve.js';
import { banBulk } from './ban-bulk.js';
import { cliLatency } from './cli-latency.js';
import { containment } from './containment.js';
import { declareToComplete } from './declare-to-complete.js';
import { edgeFanout } from './edge-fanout.js';
import { revokeBulk } from './revoke-bulk.js';
import { slackAck } from './slack-ack.js';
import { incidentStorm } from './storm.js';
import type { Benchmark } from './types.js';

export const BENCHMARKS: readonly Benchmark[] = [declareToComplete, containment, banBulk, revokeBulk, cliLatency, approve, slackAck, edgeFanout, incidentStorm];
