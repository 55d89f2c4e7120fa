import WebSocket from 'ws';

export interface CommsMessage {
  topic: string;
  data: unknown;
  /** When it arrived (ms since the epoch). */
  at: number;
}

export interface CommsClient {
  messages: CommsMessage[];
  /** Waits for a message on `topic` that `match` accepts (any after `since`, an index into `messages`). */
  waitFor: (topic: string, match?: (data: unknown) => boolean, ms?: number, since?: number) => Promise<CommsMessage>;
  close: () => void;
}

/**
 * Connects to the editor's comms websocket as the editor does: `{"auth": token}` first, then a subscription
 * (Node-RED sends its messages in arrays of `{topic, data}`).
 */
export function connectComms(url: string, token: string, subscribe = 'soar/#'): Promise<CommsClient> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/comms`);
  const messages: CommsMessage[] = [];
  const waiting = new Set<() => void>();
  return new Promise((resolve, reject) => {
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ auth: token })));
    ws.on('message', (raw: WebSocket.RawData) => {
      const parsed = JSON.parse(raw.toString()) as { auth?: string } | { topic: string; data: unknown }[];
      if (!Array.isArray(parsed)) {
        if (parsed.auth === 'ok') {
          ws.send(JSON.stringify({ subscribe }));
          resolve(client);
        } else if (parsed.auth === 'fail') reject(new Error('comms: the token was refused'));
        return;
      }
      for (const m of parsed) messages.push({ topic: m.topic, data: m.data, at: Date.now() });
      for (const w of waiting) w();
    });
    const client: CommsClient = {
      messages,
      waitFor: (topic, match = () => true, ms = 10_000, since = 0) =>
        new Promise((done, fail) => {
          const check = () => {
            const found = messages.slice(since).find((m) => m.topic === topic && match(m.data));
            if (!found) return;
            cleanup();
            done(found);
          };
          const timer = setTimeout(() => {
            cleanup();
            fail(new Error(`no ${topic} message in ${ms} ms; got ${JSON.stringify(messages.slice(since))}`));
          }, ms);
          const cleanup = () => {
            clearTimeout(timer);
            waiting.delete(check);
          };
          waiting.add(check);
          check();
        }),
      close: () => ws.close(),
    };
  });
}
