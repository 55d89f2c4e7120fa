import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * How the device behind a FaultyServer meets a request:
 * - `ok`: answers 200 with JSON at once;
 * - `hang`: reads the request and never answers;
 * - `error-500`: answers 500 with a short text body;
 * - `reset`: destroys the socket as soon as the request is in (the client sees ECONNRESET);
 * - `cut`: sends the status line, headers and the start of the body, then destroys the socket;
 * - `trickle`: sends 200 and headers, then one space every 50 ms, never ending the body (a device stuck mid-answer);
 * - `{ slowMs }`: waits that long, then answers like `ok`.
 */
export type Fault = 'ok' | 'hang' | 'error-500' | 'reset' | 'cut' | 'trickle' | { slowMs: number };

export interface FaultyRequest {
  method: string;
  url: string;
  body: string;
  /** What the request met. */
  fault: Fault;
  at: number;
}

const name = (fault: Fault) => (typeof fault === 'string' ? fault : `slow ${fault.slowMs} ms`);

/**
 * A misbehaving HTTP device on 127.0.0.1: each request to an action path meets the next fault of the plan, then the
 * fallback. Requests to `healthPath` are always answered 200, so the device stays healthy (and chosen) while its
 * actions fail, unless `faultHealth` is set. `stop()` destroys every connection, hanging ones included.
 */
export class FaultyServer {
  readonly requests: FaultyRequest[] = [];
  /** What requests meet once the plan is used up. */
  fallback: Fault = 'ok';
  /** Health checks meet the faults too. */
  faultHealth = false;
  readonly healthPath = '/health';
  port = 0;
  private planned: Fault[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      if (url === this.healthPath && !this.faultHealth) return this.answer(res, 200, { ok: true });
      const fault = this.planned.shift() ?? this.fallback;
      this.requests.push({
        method: req.method ?? '',
        url,
        body: Buffer.concat(chunks).toString(),
        fault,
        at: Date.now(),
      });
      this.meet(fault, req, res);
    });
  });

  /** The faults the next action requests meet, in order. */
  plan(...faults: Fault[]): this {
    this.planned.push(...faults);
    return this;
  }

  /** The requests that met `fault` (by name: `slow` for any slow answer). */
  met(fault: string): FaultyRequest[] {
    return this.requests.filter((r) => name(r.fault).startsWith(fault));
  }

  private answer(res: http.ServerResponse, status: number, body: unknown): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const type = typeof body === 'string' ? 'text/plain' : 'application/json';
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private later(ms: number, f: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      f();
    }, ms);
    this.timers.add(timer);
  }

  private meet(fault: Fault, req: http.IncomingMessage, res: http.ServerResponse): void {
    const n = this.requests.length;
    if (typeof fault === 'object')
      return this.later(fault.slowMs, () => this.answer(res, 200, { ok: true, id: `r${n}` }));
    switch (fault) {
      case 'ok':
        return this.answer(res, 200, { ok: true, id: `r${n}` });
      case 'hang':
        return;
      case 'error-500':
        return this.answer(res, 500, 'rule engine unavailable: database is locked');
      case 'reset':
        req.socket.destroy();
        return;
      case 'cut':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"ok": true, "id": ');
        return this.later(20, () => req.socket.destroy());
      case 'trickle': {
        res.writeHead(200, { 'content-type': 'application/json' });
        const drip = () => {
          if (res.destroyed || res.writableEnded) return;
          res.write(' ');
          this.later(50, drip);
        };
        return drip();
      }
    }
  }

  async start(): Promise<this> {
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
