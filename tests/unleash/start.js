// Start a real Unleash server (npm `unleash-server` v8, Node >= 22) for the test fixtures.
//
// Configuration comes from the environment (set by tests/servers.py):
//   UNLEASH_MODULES_DIR   folder holding node_modules/unleash-server (e.g. .ci/cache/node)
//   UNLEASH_PORT          port to listen on (host is always 127.0.0.1)
//   DATABASE_URL          postgres://user:pw@127.0.0.1:PORT/unleash
//   INIT_ADMIN_API_TOKENS admin token(s) known up front, e.g. "*:*.unleash-insecure-admin-token"
//                         (read by unleash-server itself)
'use strict';

const path = require('node:path');
const { createRequire } = require('node:module');
const { pathToFileURL } = require('node:url');

async function main() {
  const modulesDir = process.env.UNLEASH_MODULES_DIR;
  if (!modulesDir) throw new Error('UNLEASH_MODULES_DIR is not set');
  const req = createRequire(path.join(path.resolve(modulesDir), 'package.json'));
  const entry = req.resolve('unleash-server');
  const unleash = await import(pathToFileURL(entry).href);
  const port = Number(process.env.UNLEASH_PORT || 4242);
  const instance = await unleash.start({
    server: { port, host: '127.0.0.1', enableRequestLogger: false },
    db: { ssl: false },
    versionCheck: { enable: false },
    telemetry: false,
    logLevel: process.env.LOG_LEVEL || 'warn',
  });
  const stop = async () => {
    try {
      await instance.stop();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  console.log(`unleash listening on http://127.0.0.1:${port}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
