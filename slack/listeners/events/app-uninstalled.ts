import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { SlackDeps } from '../../deps.js';

/** The app was removed from the workspace: nothing works until it is reinstalled, so say so loudly. */
export const appUninstalled =
  (deps: SlackDeps) =>
  async ({ body }: SlackEventMiddlewareArgs<'app_uninstalled'> & AllMiddlewareArgs): Promise<void> => {
    deps.logger.error({ slackTeam: body.team_id }, 'slack: the app was uninstalled from the workspace; /incident stops working until it is reinstalled');
  };
