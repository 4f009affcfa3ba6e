/** One plain HTTP GET to a loopback server, from a chosen local address, for tests. */
import { request, type IncomingHttpHeaders } from 'node:http';

export interface HttpReply {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

export function httpGet(port: number, opts: { localAddress?: string; headers?: Record<string, string>; path?: string; timeoutMs?: number } = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: opts.path ?? '/', method: 'GET', localAddress: opts.localAddress, headers: opts.headers, agent: false, timeout: opts.timeoutMs ?? 5_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}
