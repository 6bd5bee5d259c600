/*
 * A real DNS server on 127.0.0.1 (UDP, node:dgram) for tests: it answers A and AAAA queries from a
 * function of the name, answers "no such name", or never answers at all (a name server that hangs).
 * Every query it receives is recorded, so a test can wait for one (`waitForQueries`) or count them.
 * Point the server under test at it with TASKS_DNS_SERVERS=`dns.address`.
 */
import { type Socket, createSocket } from 'node:dgram';
import ipaddr from 'ipaddr.js';
import { waitFor } from './wait.js';

/** What the server does for a name: answer with these addresses, say it does not exist, or stay silent. */
export type DnsAnswer = { addresses: string[]; ttl?: number } | 'nxdomain' | 'silent';

export interface DnsQuery {
  name: string;
  /** 'A', 'AAAA', or the type's number for any other. */
  type: string;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;

export class DnsServer {
  readonly queries: DnsQuery[] = [];

  private constructor(
    private readonly socket: Socket,
    private answer: (name: string) => DnsAnswer,
  ) {}

  static async start(answer: (name: string) => DnsAnswer): Promise<DnsServer> {
    const socket = createSocket('udp4');
    const server = new DnsServer(socket, answer);
    socket.on('message', (message, from) => server.handle(message, from.port, from.address));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', resolve);
    });
    return server;
  }

  /** `127.0.0.1:port`, as TASKS_DNS_SERVERS takes it. */
  get address(): string {
    return `127.0.0.1:${this.socket.address().port}`;
  }

  respond(answer: (name: string) => DnsAnswer): void {
    this.answer = answer;
  }

  /** Distinct names asked for (any type) that satisfy `filter`. */
  namesAsked(filter: (name: string) => boolean = () => true): string[] {
    return [...new Set(this.queries.map((q) => q.name).filter(filter))];
  }

  /** Resolves once `count` queries satisfying `filter` have arrived. */
  async waitForQueries(count: number, filter: (query: DnsQuery) => boolean = () => true, timeoutMs = 15_000): Promise<DnsQuery[]> {
    const seen = (): DnsQuery[] => this.queries.filter(filter);
    return waitFor(
      () => `${count} DNS queries (got ${seen().length})`,
      () => (seen().length >= count ? seen() : null),
      { timeoutMs },
    );
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private handle(message: Buffer, port: number, address: string): void {
    const question = readQuestion(message);
    if (!question) return;
    const type = question.type === TYPE_A ? 'A' : question.type === TYPE_AAAA ? 'AAAA' : String(question.type);
    this.queries.push({ name: question.name, type });
    const answer = this.answer(question.name);
    if (answer === 'silent') return;
    const family = question.type === TYPE_A ? 'ipv4' : question.type === TYPE_AAAA ? 'ipv6' : null;
    const records =
      answer === 'nxdomain' || family === null
        ? []
        : answer.addresses.filter((a) => ipaddr.parse(a).kind() === family).map((a) => Buffer.from(ipaddr.parse(a).toByteArray()));
    const ttl = answer === 'nxdomain' ? 0 : (answer.ttl ?? 60);
    this.socket.send(reply(message, question.end, question.type, answer === 'nxdomain' ? 3 : 0, records, ttl), port, address);
  }
}

/** The name and type of a query's only question, and where the question ends; null for what is not one. */
function readQuestion(message: Buffer): { name: string; type: number; end: number } | null {
  if (message.length < 12 || message.readUInt16BE(4) !== 1) return null;
  const labels: string[] = [];
  let at = 12;
  while (at < message.length && message[at] !== 0) {
    const length = message[at]!;
    labels.push(message.subarray(at + 1, at + 1 + length).toString('latin1'));
    at += 1 + length;
  }
  if (at + 5 > message.length) return null;
  return { name: labels.join('.').toLowerCase(), type: message.readUInt16BE(at + 1), end: at + 5 };
}

/** An authoritative answer to `query`: its header and question, then one record per address. */
function reply(query: Buffer, questionEnd: number, type: number, rcode: number, records: Buffer[], ttl: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  header.writeUInt16BE(0x8000 | 0x0400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2); // QR, AA, RD as asked, RA
  header.writeUInt16BE(1, 4); // one question
  header.writeUInt16BE(records.length, 6);
  const answers = records.map((rdata) => {
    const record = Buffer.alloc(12);
    record.writeUInt16BE(0xc00c, 0); // the question's name
    record.writeUInt16BE(type, 2);
    record.writeUInt16BE(1, 4); // IN
    record.writeUInt32BE(ttl, 6);
    record.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([record, rdata]);
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
}
