// The MSK API over HTTPS (straitd --api-tls-cert/--api-tls-key, control plane only): the AWS SDK
// (custom CA through NodeHttpHandler) and `strait kafka --ca-bundle` sign and succeed; a client
// that does not trust the certificate, and plain HTTP to the TLS port, get nothing.
// Environment: ST_BUILD_DIR, ST_SOURCE_DIR. Every wait is bounded.
'use strict';
const { spawn, execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const https = require('https');
const os = require('os');
const path = require('path');
const { createRequire } = require('module');

const SOURCE_DIR = process.env.ST_SOURCE_DIR || path.resolve(__dirname, '..', '..');
const BUILD_DIR = process.env.ST_BUILD_DIR || path.join(SOURCE_DIR, 'build');
const interop = createRequire(path.join(SOURCE_DIR, 'tests', 'interop', 'package.json'));
const K = interop('@aws-sdk/client-kafka');
const { NodeHttpHandler } = interop('@smithy/node-http-handler');

const KEY = { accessKeyId: 'AKIATLSADMIN00000001', secretAccessKey: 'tlsAdminSecret/00000000000000000000000001' };
function check(c, m) { if (!c) throw new Error(`check failed: ${m}`); }
async function waitFor(pred, what, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st_ctl_tls_'));
  let proc;
  let logFile = path.join(dir, 'straitd.log');
  let failed = false;
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    const out = fs.openSync(logFile, 'w');
    proc = spawn(path.join(BUILD_DIR, 'straitd'), ['--data-dir', path.join(dir, 'd'), '--api-listen', '127.0.0.1:0',
      '--api-tls-cert', path.join(dir, 'cert.pem'), '--api-tls-key', path.join(dir, 'key.pem'),
      '--ready-file', path.join(dir, 'ready.json')], { stdio: ['ignore', out, out] });
    const exited = new Promise((r) => proc.on('exit', (code) => r(code)));
    const ready = await waitFor(() => { try { return JSON.parse(fs.readFileSync(path.join(dir, 'ready.json'), 'utf8')); } catch (e) { return null; } }, 'ready file');
    check(ready.apiUrl === `https://${ready.apiEndpoint}`, `apiUrl ${ready.apiUrl}`);
    const doc = { region: 'us-east-1', accounts: [{ id: '111122223333', name: 'p',
      users: [{ name: 'admin', accessKeys: [{ id: KEY.accessKeyId, secret: KEY.secretAccessKey }], managedPolicies: ['AmazonMSKFullAccess'] }] }] };
    execFileSync(path.join(BUILD_DIR, 'strait'), ['admin', '--data-dir', path.join(dir, 'd'), 'apply', '-'], { input: JSON.stringify(doc) });

    const ca = fs.readFileSync(path.join(dir, 'cert.pem'));
    const client = new K.KafkaClient({ region: 'us-east-1', endpoint: ready.apiUrl, credentials: KEY, maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca }) }) });
    const list = await client.send(new K.ListClustersV2Command({}));
    check(Array.isArray(list.ClusterInfoList) && list.ClusterInfoList.length === 0, 'ListClustersV2 over HTTPS');

    const untrusting = new K.KafkaClient({ region: 'us-east-1', endpoint: ready.apiUrl, credentials: KEY, maxAttempts: 1 });
    let err = null;
    try { await untrusting.send(new K.ListClustersV2Command({})); } catch (e) { err = e; }
    check(err && /certificate/i.test(String(err.message || err.code)), `an untrusted certificate is refused: ${err && err.message}`);

    const plain = await new Promise((resolve) => {
      const [host, port] = ready.apiEndpoint.split(':');
      const req = http.request({ host, port, path: '/api/v2/clusters', method: 'GET', timeout: 3000 }, (res) => resolve(`HTTP ${res.statusCode}`));
      req.on('error', (e) => resolve(`error ${e.code}`));
      req.on('timeout', () => { req.destroy(); resolve('timeout'); });
      req.end();
    });
    check(!plain.startsWith('HTTP 2'), `plain HTTP on the TLS port: ${plain}`);

    const env = { ...process.env, AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey };
    const r1 = spawnSync(path.join(BUILD_DIR, 'strait'), ['kafka', '--endpoint-url', ready.apiUrl, '--ca-bundle',
      path.join(dir, 'cert.pem'), 'list-clusters-v2'], { env, encoding: 'utf8' });
    check(r1.status === 0 && JSON.parse(r1.stdout).ClusterInfoList.length === 0, `strait kafka over HTTPS: ${r1.stderr}`);
    const r2 = spawnSync(path.join(BUILD_DIR, 'strait'), ['kafka', '--endpoint-url', ready.apiUrl, 'list-clusters-v2'],
      { env: { ...env, AWS_CA_BUNDLE: '' }, encoding: 'utf8' });
    check(r2.status !== 0, 'strait kafka refuses an untrusted certificate');
    proc.kill('SIGTERM');
    const code = await exited;
    proc = null;
    check(code === 0, `straitd exit status ${code}`);
    console.log('PASS');
  } catch (e) {
    failed = true;
    console.error(`FAIL: ${e.stack || e}`);
    try { process.stdout.write(fs.readFileSync(logFile, 'utf8')); } catch (x) { /* none */ }
  } finally {
    if (proc) proc.kill('SIGKILL');
    if (!process.env.ST_KEEP) fs.rmSync(dir, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}
main();
