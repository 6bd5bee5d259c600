// A target to try Kuueri Tasks against on your own machine: prints every request it receives and
// answers 200 (or the status in ?status=500). Usage: node scripts/echo-target.mjs [port]
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 8203);
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const status = Number(url.searchParams.get('status') ?? 200);
    const kuueri = Object.entries(req.headers).filter(([name]) => name.startsWith('x-kuueri-tasks-') || name === 'user-agent');
    console.log(`${new Date().toISOString()} ${req.method} ${req.url} -> ${status}`);
    for (const [name, value] of kuueri) console.log(`  ${name}: ${value}`);
    if (chunks.length > 0) console.log(`  body: ${Buffer.concat(chunks).toString()}`);
    res.writeHead(status, { 'content-type': 'text/plain' }).end('ok\n');
  });
});
// The port it got, not the one asked for: 0 asks for a free one (the README's test does).
server.listen(port, '127.0.0.1', () => console.log(`echo target on http://127.0.0.1:${server.address().port}`));
