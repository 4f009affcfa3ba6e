/**
 * createDrillActivities(deps): what DrillWorkflow does on the worker — prepare the robot's
 * declaration, take the baseline, watch and steer its incident, check the drill target from
 * outside (one module per system), and write the report.
 */
import type { Client } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import type { Baseline, CheckRequest, PostCondition } from '../../workflows/drill-definitions.js';
import type { ActivityDeps } from '../deps.js';
import { appBaseline, appChecks } from './app.js';
import { createHealth } from './health.js';
import { nginxChecks } from './nginx.js';
import { pgBaseline, pgChecks } from './postgres.js';
import { createPrepare } from './prepare.js';
import { createPublish } from './publish.js';
import { createReport } from './report.js';
import { robotPrincipals } from './robots.js';
import { createSteer } from './steer.js';
import { tokenBaseline, tokenChecks } from './token.js';

export interface DrillDeps extends ActivityDeps {
  /** The Temporal client robot decisions go through (default: the worker's, from the activity context). */
  temporal?: () => Client;
}

export function createDrillActivities(deps: DrillDeps) {
  const robots = robotPrincipals(deps);
  const client = deps.temporal ?? (() => Context.current().client);
  return {
    drillPrepare: createPrepare(deps, robots),
    ...createSteer(client, robots),
    drillHealth: createHealth(deps),
    drillReport: createReport(deps),
    drillPublish: createPublish(deps),
    async drillBaseline(req: { target: string; incidentId: string }): Promise<Baseline> {
      const t = deps.clients.target(req.target);
      // The token must outlive the longest drill (time budget) and its all-clear check.
      const token = await tokenBaseline(t, deps.config.drills.timeBudget + 60 * 60_000);
      return { takenAt: new Date().toISOString(), ...(await appBaseline(deps.clients, req.target, t)), ...(t.postgres ? await pgBaseline(deps.clients, req.target, t.postgres) : {}), ...token };
    },
    async drillCheck(req: CheckRequest): Promise<PostCondition[]> {
      const t = deps.clients.target(req.target);
      const [pgc, app, token, nginx] = await Promise.all([t.postgres ? pgChecks(deps.clients, req.target, t.postgres, req) : [], appChecks(deps.clients, req.target, t, req), tokenChecks(t, req), nginxChecks(t, req)]);
      return [...pgc, ...app, ...token, ...nginx];
    },
  };
}
