import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NodeAPI } from 'node-red';
import helper from 'node-red-node-test-helper';

helper.init(require.resolve('node-red'));

export { helper };

/**
 * node-red-node-test-helper does not serve `RED.httpNode`; this module captures it so a test can put it behind a
 * real HTTP listener on 127.0.0.1.
 */
let httpNode: http.RequestListener | undefined;
export function captureHttpNode(RED: NodeAPI): void {
  httpNode = RED.httpNode as unknown as http.RequestListener;
}

/** The captured `RED.httpNode` express app. */
export function nodeRoutes(): http.RequestListener & ((req: unknown, res: unknown, next: unknown) => void) {
  if (!httpNode) throw new Error('load captureHttpNode with the flow first');
  return httpNode as never;
}

export async function listenHttpNode(
  before?: http.RequestListener,
): Promise<{ url: string; close: () => Promise<void> }> {
  if (!httpNode) throw new Error('load captureHttpNode with the flow first');
  const routes = httpNode;
  const server = http.createServer(before ? (req, res) => before(req, res) : routes);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
