import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { SlackDeps } from '../../deps.js';

/** Slack revoked tokens of the app: the bot token in config must be replaced. */
export const tokensRevoked =
  (deps: SlackDeps) =>
  async ({ body, event }: SlackEventMiddlewareArgs<'tokens_revoked'> & AllMiddlewareArgs): Promise<void> => {
    deps.logger.error({ slackTeam: body.team_id, bots: event.tokens.bot?.length ?? 0, users: event.tokens.oauth?.length ?? 0 }, 'slack: tokens were revoked; replace slack.botToken');
  };
