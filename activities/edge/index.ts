/**
 * The nginx edge hosts. `apply.ts` runs on each edge (`firebreak edge <name>`, its own task
 * queue): the deny file becomes the whole ban set it is given. `fanout.ts` runs on the worker:
 * the ban set with its expected checksum, and the probe of each edge's nginx. The workflow
 * drives the fan-out (workflows/edges.ts).
 */
export { createEdgeActivities, type EdgeDeps } from './apply.js';
export { createEdgeFanoutActivities, edgeSetFor, edgesOf } from './fanout.js';
export { packNetworks, readEdgeDenyFile, renderEdgeDenyFile, unpackNetworks } from './deny-set.js';
