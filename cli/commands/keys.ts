/**
 * `firebreak keys init | show`: the user's Ed25519 signing key. Every decision the CLI
 * sends is signed with it; the worker believes the signature, never the name.
 */
import type { Command } from 'commander';
import type { Runner } from '../context.js';

interface KeyView {
  user: string;
  keyId: string;
  path: string;
  /** The line for the worker's `identity.responders[].keys`. */
  publicLine: string;
  created?: boolean;
}

const render = (k: KeyView): string =>
  [
    `${k.created ? 'created' : 'signing key'} ${k.keyId} for ${k.user}`,
    `  private key: ${k.path}${k.path.startsWith('ssh-agent') ? '' : ' (mode 600; never share it)'}`,
    '',
    "add this line to the worker's firebreak.yaml, under identity.responders (name: " + k.user + ') keys:',
    `  ${k.publicLine}`,
  ].join('\n');

export function registerKeys(program: Command, run: Runner): void {
  const cmd = program.command('keys').description('your signing key (decisions are signed with it)');
  cmd
    .command('init')
    .description("create your Ed25519 key pair in $XDG_CONFIG_HOME/firebreak (0600) and print the public line for the worker's registry")
    .option('--force', 'replace an existing key (its registry entry stops working)')
    .action(
      run(async (ctx, o: { force?: boolean }) => {
        const { createKeyPair, publicLine } = await import('../../lib/identity/keys.js');
        const key = await createKeyPair(undefined, { force: o.force });
        const user = ctx.config.user;
        const view: KeyView = { user, keyId: key.keyId, path: key.path, publicLine: publicLine(key, user), created: true };
        ctx.out(view, () => render(view));
      }),
    );
  cmd
    .command('show')
    .description('print the key id and public line of what signs your decisions (the key file, or the ssh-agent key with FIREBREAK_SIGN_WITH=ssh-agent); exit 1 without one')
    .action(
      run(async (ctx) => {
        const user = ctx.config.user;
        let view: KeyView;
        if (ctx.config.signing.with === 'ssh-agent') {
          const [{ agentSigner }, { publicLine }] = await Promise.all([import('../../lib/identity/ssh-agent.js'), import('../../lib/identity/registry.js')]);
          const key = await agentSigner({ keyId: ctx.config.signing.sshKeyId });
          view = { user, keyId: key.keyId, path: `ssh-agent (${process.env.SSH_AUTH_SOCK ?? ''})`, publicLine: publicLine(key.publicKey, user) };
        } else {
          const { loadKeyPair, publicLine } = await import('../../lib/identity/keys.js');
          const key = await loadKeyPair();
          view = { user, keyId: key.keyId, path: key.path, publicLine: publicLine(key, user) };
        }
        ctx.out(view, () => render(view));
      }),
    );
}
