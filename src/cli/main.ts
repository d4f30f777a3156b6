import { KEEP_RUNNING, run } from './run.js';

// The entry point of bin/keplars-server.js. A server keeps running; any other command ends with its exit code
// (README, Operator CLI: 0 done, 1 refused or failed, 2 a wrong command line).
const code = await run(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  isTTY: process.stderr.isTTY === true,
});
// a failed command may leave a pool or a timer behind; a finished one ends when its work is done
if (code > 0) process.exit(code);
else if (code !== KEEP_RUNNING) process.exitCode = code;
