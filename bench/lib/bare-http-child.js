// The throughput baseline: a bare node:http server that reads the request body and answers fixed JSON
// (the bytes of a real send-email response, passed in by the parent). No framework, no database.
import http from 'node:http';
import { Buffer } from 'node:buffer';
import process from 'node:process';

const payload = Buffer.from(process.env.BENCH_BARE_RESPONSE ?? '{"success":true}');
const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(payload.length) };

const server = http.createServer((req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(payload);
  });
});
server.keepAliveTimeout = 72_000;
server.listen(0, '127.0.0.1', () => {
  process.send({ type: 'ready', port: server.address().port });
});
process.on('disconnect', () => process.exit(0));
