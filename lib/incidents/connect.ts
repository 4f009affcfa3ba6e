/** The Temporal client every front door uses: one connection, the configured namespace and payload codec. */
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config.js';
import { OperationError } from '../errors.js';
import { connectionOptions, dataConverter } from '../temporal-connection.js';

export async function connectClient(config: Readonly<Config>): Promise<Client> {
  const connection = await Connection.connect({ ...connectionOptions(config), connectTimeout: '5s' }).catch((err: unknown) => {
    throw new OperationError(`cannot reach Temporal at ${config.temporal.address}: ${(err as Error).message.split('\n')[0]} (start one with \`firebreak dev\`)`);
  });
  return new Client({ connection, namespace: config.temporal.namespace, dataConverter: dataConverter(config) });
}
