/** A Slack incoming-webhook stand-in: records each posted body; its URL is a secret (the path), as Slack's is. */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackWebhook {
  url: string;
  bodies: Array<{ text: string }>;
  /** Status the next posts are answered with (200 `ok` by default). */
  answer: { status: number; text: string };
  stop(): Promise<void>;
}

export async function startSlackWebhook(): Promise<SlackWebhook> {
  const bodies: Array<{ text: string }> = [];
  const answer = { status: 200, text: 'ok' };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (answer.status === 200) bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { text: string });
      res.writeHead(answer.status, { 'content-type': 'text/plain' });
      res.end(answer.text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T0000/B0000/${randomBytes(12).toString('hex')}`,
    bodies,
    answer,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
