// The sealed request's cost alone: seal (every subscribe) and open (every attempt) of the bench's
// ~1 KB webhook, in rounds of 20,000, interleaved, median of the rounds. Prints µs per call.
// Run: npx tsx bench/micro/seal-open.ts [--rounds 7]
import { newId } from '../../src/core/ids.js';
import { createRequestCipher } from '../../src/core/sealed-request.js';
import type { HttpRequestSpec } from '../../src/core/task.js';
import { PAYLOAD_BASE64, TARGET_HEADERS } from '../lib/bodies.js';

const rounds = process.argv.includes('--rounds') ? Number(process.argv[process.argv.indexOf('--rounds') + 1]) : 7;
const N = 20_000;
const cipher = createRequestCipher(Buffer.alloc(32, 7));
const request: HttpRequestSpec = {
  url: 'http://127.0.0.1:4000/hook',
  method: 'POST',
  params: { source: 'bench', attempt: 'first' },
  headers: TARGET_HEADERS,
  data: PAYLOAD_BASE64,
};
const ids = Array.from({ length: N }, () => newId(Date.now()));
const sealed = ids.map((id) => cipher.seal(request, id));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const seal: number[] = [];
const open: number[] = [];
let sink = 0;
for (let r = 0; r < rounds; r++) {
  let t = performance.now();
  for (let i = 0; i < N; i++) sink += cipher.seal(request, ids[i]!).length;
  seal.push(((performance.now() - t) * 1000) / N);
  t = performance.now();
  for (let i = 0; i < N; i++) sink += cipher.open(sealed[i]!, ids[i]!).url.length;
  open.push(((performance.now() - t) * 1000) / N);
}
// The results are used, so no call can be optimised away; and an empty result would mean nothing was measured.
if (sink === 0) throw new Error('nothing was sealed or opened');
console.log(
  `sealed request of ${sealed[0]!.length} characters: seal ${median(seal).toFixed(2)} µs, open ${median(open).toFixed(2)} µs per call (median of ${rounds} rounds of ${N}; seal ${seal.map((x) => x.toFixed(1)).join(' ')}; open ${open.map((x) => x.toFixed(1)).join(' ')})`,
);
