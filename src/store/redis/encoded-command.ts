import { Command } from 'ioredis';

/** A command's arguments in pieces, encoded in order without first being copied into one array. */
export type Argument = string | Buffer;
export type ArgumentChunks = readonly (readonly Argument[])[];

const CR = 13;
const LF = 10;
const STAR = 42;
const DOLLAR = 36;

/**
 * A command written as RESP straight into one Buffer when it is made. ioredis's own `Command`
 * builds its wire form by concatenating strings, four per argument, and the socket write then
 * flattens them: several times the bytes sent were allocated per task, and a batch of inserts has
 * dozens of arguments per task. The arguments ioredis keeps (for its debug log and tracing) are the
 * first chunk only.
 *
 * This subclasses ioredis's `Command` and overrides `toWritable`, which is not part of its public
 * API: ioredis is pinned to an exact version in package.json for that reason. Upgrade it
 * deliberately; test/unit/redis-encoding.test.ts compares this encoding with ioredis's own.
 */
export class EncodedCommand extends Command {
  private readonly wire: Buffer;

  constructor(name: string, chunks: ArgumentChunks, options: ConstructorParameters<typeof Command>[2] = {}) {
    super(name, [], options);
    this.args = [...(chunks[0] ?? [])];
    this.wire = encode(name, chunks);
  }

  override toWritable(): Buffer {
    return this.wire;
  }
}

/** RESP: `*<count>\r\n`, then `$<bytes>\r\n<argument>\r\n` for the name and each argument. */
export function encode(name: string, chunks: ArgumentChunks): Buffer {
  const lengths: number[] = [Buffer.byteLength(name)];
  let size = bulkSize(lengths[0]!);
  for (const chunk of chunks) {
    for (const arg of chunk) {
      const length = Buffer.byteLength(arg);
      lengths.push(length);
      size += bulkSize(length);
    }
  }
  size += 3 + digits(lengths.length);
  const out = Buffer.allocUnsafe(size);
  let at = header(out, 0, STAR, lengths.length);
  at = bulk(out, header(out, at, DOLLAR, lengths[0]!), name);
  let i = 1;
  for (const chunk of chunks) {
    for (const arg of chunk) at = bulk(out, header(out, at, DOLLAR, lengths[i++]!), arg);
  }
  if (at !== size) throw new Error(`RESP encoding wrote ${at} bytes of ${size}`);
  return out;
}

function bulkSize(length: number): number {
  return 1 + digits(length) + 2 + length + 2;
}

function digits(n: number): number {
  let count = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    count++;
  }
  return count;
}

function header(out: Buffer, at: number, mark: number, n: number): number {
  out[at] = mark;
  const end = at + 1 + digits(n);
  for (let i = end - 1; i > at; i--) {
    out[i] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  out[end] = CR;
  out[end + 1] = LF;
  return end + 2;
}

function bulk(out: Buffer, at: number, arg: Argument): number {
  at += typeof arg === 'string' ? out.write(arg, at) : arg.copy(out, at);
  out[at] = CR;
  out[at + 1] = LF;
  return at + 2;
}
