/** Replies only the person sees: errors with their correlation id, and the help text. */
import { describe, expect, it } from 'vitest';
import { errorReply, helpReply, SUBCOMMANDS } from '../../slack/blocks/ephemeral.js';
import { SLACK_LIMITS } from '../../slack/blocks/text.js';
import { allTexts, livePings, shapeProblems } from './slack-blocks-shape.js';

describe('ephemeral replies', () => {
  it('an error carries its correlation id, ephemeral, without replacing the message it answers', () => {
    const r = errorReply('alice declared this incident: the two-person rule needs another approver', 'c-7f3a9b21');
    expect(r).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(shapeProblems(r.blocks, 'message')).toEqual([]);
    const text = allTexts(r).join('\n');
    expect(text).toContain(':warning: alice declared this incident: the two-person rule needs another approver');
    expect(text).toContain("_Correlation id: `c-7f3a9b21` (the same id is in Firebreak's log)_");
    expect(r.text).toBe('alice declared this incident: the two-person rule needs another approver (correlation id c-7f3a9b21)');
  });

  it('an error message from anywhere pings nobody and fits, the correlation id kept whole', () => {
    const r = errorReply(`unknown subcommand "<!channel> @here <@U1>"${'x'.repeat(20_000)}`, 'req:abc.123');
    expect(shapeProblems(r.blocks, 'message')).toEqual([]);
    expect(livePings(allTexts(r))).toEqual([]);
    expect(r.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackText);
    expect(allTexts(r).join('\n')).toContain('&lt;!channel&gt; @\u2060here &lt;@U1&gt;');
    expect(allTexts(r).at(-1)).toMatch(/_Correlation id: `req:abc\.123` \(the same id is in Firebreak's log\)_$/);
    // An id that is not a plain token is not shown as one.
    expect(allTexts(errorReply('x', '`<!here>`')).join('\n')).toContain('`invalid-correlation-id`');
  });

  it('help lists every subcommand under the configured command name', () => {
    const r = helpReply('/firebreak');
    expect(r.response_type).toBe('ephemeral');
    expect(shapeProblems(r.blocks, 'message')).toEqual([]);
    const text = allTexts(r).join('\n');
    for (const usage of ['declare', 'status [id]', 'list', 'approve &lt;id&gt; &lt;gate&gt;', 'abort &lt;id&gt; &lt;reason&gt;', 'resolve &lt;id&gt;', 'note &lt;id&gt; &lt;text&gt;', 'retry &lt;id&gt;', 'lockdown on|off [target] [reason]', 'help']) {
      expect(text).toContain(`\`/firebreak ${usage}\` — `);
    }
    expect(SUBCOMMANDS.map((s) => s.usage.split(' ')[0])).toEqual(['declare', 'status', 'list', 'approve', 'abort', 'resolve', 'note', 'retry', 'lockdown', 'help']);
    expect(r.text).toBe('/firebreak: declare, status, list, approve, abort, resolve, note, retry, lockdown, help');
    expect(allTexts(helpReply()).join('\n')).toContain('`/incident status [id]`');
  });
});
