// Summarizes a V8 .cpuprofile (from BENCH_CPU_PROF=1 npm run bench): self time by package or source
// file, and the hottest functions. Usage: node bench/profile-summary.js <file.cpuprofile> [top]
import { readFileSync } from 'node:fs';
import process from 'node:process';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/profile-summary.js <file.cpuprofile> [top]\n');
  process.exit(1);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

function where(url) {
  if (!url) return '(native/V8)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return url;
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + 1) : url;
}

const byPlace = new Map();
const byFunction = new Map();
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  const cf = node.callFrame;
  const place = cf.functionName === '(idle)' || cf.functionName === '(program)' || cf.functionName === '(garbage collector)' ? cf.functionName : where(cf.url);
  byPlace.set(place, (byPlace.get(place) ?? 0) + us);
  const fn = `${cf.functionName || '(anonymous)'} ${where(cf.url)}:${cf.lineNumber + 1}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
}
const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms`;
process.stdout.write(`${file}: ${(total / 1e6).toFixed(2)} s sampled\n\nSelf time by package / file:\n`);
for (const [k, v] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${pct(v)}  ${k}\n`);
process.stdout.write('\nHottest functions (self time):\n');
for (const [k, v] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${pct(v)}  ${k}\n`);
