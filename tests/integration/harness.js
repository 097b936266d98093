// Shared harness of the JavaScript integration tests (tests/integration/test_*.js): paths and the
// interop node modules, log/check/wait helpers, a straitd process, `strait admin`, MSK API clients
// (AWS SDK, raw SigV4 requests), MSK IAM tokens, cluster and VPC-connection waits, kafkajs clients
// of VPC-connection endpoints with Kafka error checks, lettered steps or the end of a one-piece
// test. Not a test itself: CMake registers test_* files only.
//
// Loading this module needs no node module: the interop packages (tests/interop/package.json,
// `cd tests/interop && npm ci`) are required by the tests, or lazily by the helpers that use
// them, so each test decides how a missing module ends it (requireInteropOrSkip: exit 77).
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const tls = require('tls');
const os = require('os');
const path = require('path');
const { createRequire } = require('module');

const SOURCE_DIR = process.env.ST_SOURCE_DIR || path.resolve(__dirname, '..', '..');
const BUILD_DIR = process.env.ST_BUILD_DIR || path.join(SOURCE_DIR, 'build');
// require() of the interop node modules (tests/interop/node_modules).
const interop = createRequire(path.join(SOURCE_DIR, 'tests', 'interop', 'package.json'));
const REGION = 'us-east-1';
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

// Runs load(interop) and returns what it returns; a missing module skips the test (exit 77).
function requireInteropOrSkip(load) {
  try {
    return load(interop);
  } catch (e) {
    console.log(`SKIP: node modules missing (cd tests/interop && npm ci): ${e.message}`);
    process.exit(77);
  }
}

function log(msg) { console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`); }
function check(cond, msg) { if (!cond) throw new Error(`check failed: ${msg}`); }

async function waitFor(pred, what, timeoutMs = 30000, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms); })])
    .finally(() => clearTimeout(t));
}

// Loopback addresses no other test uses: ip(n) = 127.A.B.n with A, B random per call of this;
// ip.prefix = '127.A.B.'.
function loopbackIps() {
  const A = 100 + Math.floor(Math.random() * 150);
  const B = Math.floor(Math.random() * 250) + 1;
  const ip = (n) => `127.${A}.${B}.${n}`;
  ip.prefix = `127.${A}.${B}.`;
  return ip;
}

function tempDir(prefix) { return fs.mkdtempSync(path.join(os.tmpdir(), prefix)); }
// Removes a temp dir of the test, unless ST_KEEP is set.
function removeTempDir(dir) {
  if (!process.env.ST_KEEP) fs.rmSync(dir, { recursive: true, force: true });
  else log(`kept ${dir}`);
}

// The end of a test that runs as one piece (no lettered steps): stops straitd d (an unclean stop
// fails the test, and prints its log), removes the temp dir; exit 1 when `failed`, else PASS.
async function endTest(d, dir, failed) {
  const r = await d.stop();
  if (r && r.code !== 0) {
    failed = true;
    console.error(`straitd did not stop cleanly: ${JSON.stringify(r)}`);
    d.printLog();
  }
  removeTempDir(dir);
  if (failed) process.exit(1);
  log('PASS');
}

// `strait admin --data-dir DATA ARGS...` of straitd d; returns its output (throws on a failure).
function straitAdmin(d, args) {
  return execFileSync(path.join(BUILD_DIR, 'strait'), ['admin', '--data-dir', d.data].concat(args), { encoding: 'utf8' });
}
// `strait admin --data-dir DATA apply FILE` with `doc` written to DIR/apply.json; returns its output.
function adminApply(d, doc) {
  const applyFile = path.join(d.dir, 'apply.json');
  fs.writeFileSync(applyFile, JSON.stringify(doc));
  return straitAdmin(d, ['apply', applyFile]);
}

// One straitd in DIR (data dir DIR/data), started with args() + extra and ready once its ready
// file is written. By default one embedded (librdkafka mock) broker, the MSK API on an ephemeral
// loopback port, the plaintext legacy endpoint at `endpoint`; a subclass overrides args().
// perStartLog: each start removes the old ready file and logs to a new DIR/straitd.<ms>.log (for
// tests that restart it); otherwise every start appends to DIR/straitd.log.
class Straitd {
  constructor(dir, { endpoint = null, perStartLog = false } = {}) {
    this.dir = dir;
    this.data = path.join(dir, 'data');
    this.ready = path.join(dir, 'ready.json');
    this.endpoint = endpoint;
    this.perStartLog = perStartLog;
  }
  args() {
    return ['--data-dir', this.data, '--embedded-kafka', '1',
      '--insecure-endpoint', this.endpoint, '--api-listen', '127.0.0.1:0', '--ready-file', this.ready,
      '--metadata-refresh-ms', '1000', '--log-level', process.env.ST_LOG_LEVEL || 'info'];
  }
  // Resolves to the ready file's contents (also this.info; this.api is the MSK API's http:// URL).
  async start(extra = []) {
    if (this.perStartLog) {
      try { fs.unlinkSync(this.ready); } catch (e) { /* first start */ }
      this.logFile = path.join(this.dir, `straitd.${Date.now()}.log`);
    } else {
      this.logFile = path.join(this.dir, 'straitd.log');
    }
    const out = fs.openSync(this.logFile, 'a');
    this.proc = spawn(path.join(BUILD_DIR, 'straitd'), this.args().concat(extra), { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.exited = new Promise((r) => this.proc.on('exit', (code, sig) => r({ code, sig })));
    const ready = await Promise.race([waitFor(() => {
      try { return JSON.parse(fs.readFileSync(this.ready, 'utf8')); } catch (e) { return null; }
    }, 'the ready file'), this.exited.then((r) => { throw new Error(`straitd exited early: ${JSON.stringify(r)}`); })]);
    this.info = ready;
    this.api = `http://${ready.apiEndpoint}`;
    return ready;
  }
  // SIGTERM (SIGKILL after 15 s); resolves to { code, sig }, or null when not running.
  async stop() {
    if (!this.proc) return null;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc && this.proc.kill('SIGKILL'), 15000);
    const r = await this.exited;
    clearTimeout(t);
    this.proc = null;
    return r;
  }
  text() { try { return fs.readFileSync(this.logFile, 'utf8'); } catch (e) { return ''; } }
  printLog() { try { process.stdout.write(fs.readFileSync(this.logFile, 'utf8')); } catch (e) { /* none */ } }
  // The installation CA that issues the VPC-connection endpoints' certificates.
  endpointCa() { return fs.readFileSync(path.join(this.data, 'tls', 'ca.pem'), 'utf8'); }
}

// ---- the MSK API
// An @aws-sdk/client-kafka client of d's API (SigV4 with `creds`, no retries).
function mskClient(d, creds, extra = {}) {
  const K = interop('@aws-sdk/client-kafka');
  return new K.KafkaClient({ region: REGION, endpoint: d.api, credentials: creds, maxAttempts: 1, ...extra });
}

// A raw HTTP request to d's API, SigV4-signed with `creds` (for what the SDK does not send:
// strait's own paths, broken signatures). edit(signedHeaders) may change the headers after
// signing; sendBody (default: body) is what is sent. Resolves to { status, type, body }.
async function signedRequest(d, { method = 'GET', pathname, query, headers = {}, body, sendBody = body, creds,
  signingDate, signerOptions = {}, edit }) {
  const { SignatureV4 } = interop('@smithy/signature-v4');
  const { Sha256 } = interop('@aws-crypto/sha256-js');
  const url = new URL(d.api);
  const signer = new SignatureV4({ credentials: creds, region: REGION, service: 'kafka', sha256: Sha256, uriEscapePath: true,
    ...signerOptions });
  const signed = await signer.sign({ method, protocol: 'http:', hostname: url.hostname, port: Number(url.port),
    path: pathname, query, headers: { host: url.host, ...headers }, body }, { signingDate: signingDate || new Date() });
  if (edit) edit(signed.headers);
  const qs = query ? new URLSearchParams(query).toString() : '';
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: `${pathname}${qs ? '?' + qs : ''}`,
      headers: signed.headers }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['x-amzn-errortype'], body: data }));
    });
    req.on('error', reject);
    if (sendBody !== undefined) req.write(sendBody);
    req.end();
  });
}

// An MSK IAM OAUTHBEARER token (a presigned kafka-cluster:Connect URL, base64url) like the one of
// aws-msk-iam-sasl-signer-js, but with a chosen signing date, region and host: for tokens the
// signer will not make (expired, another region, another host).
async function iamAuthToken(creds, { region = REGION, host, date = new Date(), expiresIn = 900 } = {}) {
  const { SignatureV4 } = interop('@smithy/signature-v4');
  const { Sha256 } = interop('@aws-crypto/sha256-js');
  const signer = new SignatureV4({ credentials: creds, region, service: 'kafka-cluster', sha256: Sha256 });
  const hostname = host || `kafka.${region}.amazonaws.com`;
  const req = await signer.presign({ method: 'GET', protocol: 'https:', hostname, path: '/',
    headers: { host: hostname }, query: { Action: 'kafka-cluster:Connect' } }, { signingDate: date, expiresIn });
  const q = Object.entries(req.query).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return Buffer.from(`https://${hostname}/?${q}&User-Agent=strait-test`).toString('base64url');
}

async function clusterState(c, arn) {
  const K = interop('@aws-sdk/client-kafka');
  return (await c.send(new K.DescribeClusterV2Command({ ClusterArn: arn }))).ClusterInfo;
}
async function waitActive(c, arn) {
  return waitFor(async () => { const i = await clusterState(c, arn); return i.State === 'ACTIVE' ? i : null; }, `cluster ${arn} ACTIVE`);
}
// A VPC connection's state; 'GONE' once DescribeVpcConnection answers NotFoundException.
async function connState(c, arn) {
  const K = interop('@aws-sdk/client-kafka');
  try { return (await c.send(new K.DescribeVpcConnectionCommand({ Arn: arn }))).State; } catch (e) {
    if (e.name === 'NotFoundException') return 'GONE';
    throw e;
  }
}
async function waitConn(c, arn, want = 'AVAILABLE') {
  return waitFor(async () => (await connState(c, arn)) === want, `connection ${arn} ${want}`);
}

// CreateClusterV2 (provisioned, Kafka 3.6.0, kafka.m5.large) and ACTIVE; then, with
// `vpcConnectivity` (VpcConnectivity.ClientAuthentication), UpdateConnectivity turning multi-VPC
// connectivity on, and ACTIVE again. Resolves to { arn, info }.
async function createCluster(admin, { name, brokers, subnets, securityGroups, clientAuthentication, vpcConnectivity }) {
  const K = interop('@aws-sdk/client-kafka');
  const arn = (await admin.send(new K.CreateClusterV2Command({ ClusterName: name,
    Provisioned: { KafkaVersion: '3.6.0', NumberOfBrokerNodes: brokers, ClientAuthentication: clientAuthentication,
      BrokerNodeGroupInfo: { ClientSubnets: subnets, InstanceType: 'kafka.m5.large', SecurityGroups: securityGroups } } }))).ClusterArn;
  let info = await waitActive(admin, arn);
  if (vpcConnectivity) {
    await admin.send(new K.UpdateConnectivityCommand({ ClusterArn: arn, CurrentVersion: info.CurrentVersion,
      ConnectivityInfo: { VpcConnectivity: { ClientAuthentication: vpcConnectivity } } }));
    info = await waitActive(admin, arn);
  }
  return { arn, info };
}

// ---- kafkajs
// A kafkajs client of VPC-connection endpoints: TLS trusting `ca`, SASL `sasl`, quiet; `config`
// adds to or overrides the rest. countSockets: kafka.counter.sockets counts the TCP/TLS sockets it
// opens (to prove "no reconnect").
function endpointKafka({ brokers, clientId, sasl, ca, countSockets = false, ...config }) {
  const { Kafka, logLevel } = interop('kafkajs');
  const counter = { sockets: 0 };
  const socketFactory = ({ host, port, ssl, onConnect }) => {
    counter.sockets++;
    const s = ssl ? tls.connect(Object.assign({ host, port }, net.isIP(host) ? {} : { servername: host }, ssl), onConnect)
      : net.connect({ host, port }, onConnect);
    s.setKeepAlive(true, 60000);
    return s;
  };
  const kafka = new Kafka({ brokers, clientId, sasl, ssl: { ca: [ca] }, logLevel: logLevel.NOTHING,
    connectionTimeout: 5000, authenticationTimeout: 5000, ...(countSockets ? { socketFactory } : {}), ...config });
  if (countSockets) kafka.counter = counter;
  return kafka;
}

// Everything a step opens, disconnected when the step ends (pass or fail).
let opened = [];
function track(x) { opened.push(x); return x; }
async function closeAll() {
  const list = opened;
  opened = [];
  await Promise.all(list.map((x) => withTimeout(x.disconnect(), 10000, 'disconnect').catch(() => {})));
}

// kafkajs wraps protocol errors: KafkaJSNonRetriableError / KafkaJSNumberOfRetriesExceeded
// (.cause), KafkaJSAggregateError (.errors), crash events (.error). Walk all of it.
function errChain(e) {
  const out = [];
  const seen = new Set();
  const walk = (x) => {
    if (!x || typeof x !== 'object' || seen.has(x)) return;
    seen.add(x);
    out.push(x);
    walk(x.cause);
    walk(x.originalError);
    walk(x.error);
    if (Array.isArray(x.errors)) x.errors.forEach(walk);
  };
  walk(e);
  return out;
}
const errText = (e) => errChain(e).map((x) => `${x.name}${x.type ? ` [${x.type}]` : ''}: ${x.message}`).join(' <- ');
// Kafka error types (TOPIC_AUTHORIZATION_FAILED, ...) and kafkajs error names (KafkaJS...) in the chain.
const errTypes = (e) => errChain(e).flatMap((x) => [x.type, x.name]).filter(Boolean);

// fn() must fail (within 40 s) with one of `types` somewhere in its error chain.
async function expectKafkaError(what, types, fn) {
  types = [].concat(types);
  let res;
  try {
    res = await withTimeout(Promise.resolve().then(fn), 40000, what);
  } catch (e) {
    check(errTypes(e).some((t) => types.includes(t)), `${what}: expected ${types.join(' or ')}, got ${errText(e)}`);
    log(`  ok: ${what}: ${errText(e).slice(0, 300)}`);
    return e;
  }
  throw new Error(`check failed: ${what}: succeeded (${JSON.stringify(res)}), expected ${types.join(' or ')}`);
}

async function produce(kafka, topic, values, opts = {}) {
  const p = track(kafka.producer({ allowAutoTopicCreation: false, ...opts }));
  await p.connect();
  await p.send({ topic, messages: values.map((value) => ({ value, partition: 0 })) });
  await p.disconnect();
}

// Consumes `topic` from the beginning with `groupId` until every value of `want` was seen. The
// tests write every message to partition 0, so a value written before the last wanted one has
// been seen too: the callers' "was not written" checks are sound.
async function consumeValues(kafka, topic, groupId, want, timeoutMs = 30000) {
  const consumer = track(kafka.consumer({ groupId, retry: { retries: 0, restartOnFailure: async () => false } }));
  const seen = new Set();
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await withTimeout(new Promise((resolve, reject) => {
      consumer.on(consumer.events.CRASH, (ev) => reject(ev.payload.error));
      consumer.run({ eachMessage: async ({ message }) => {
        seen.add(message.value.toString());
        if (want.every((v) => seen.has(v))) resolve();
      } }).catch(reject);
    }), timeoutMs, `consuming ${want.join(', ')} from ${topic} (seen: ${[...seen].join(', ')})`);
  } finally {
    await withTimeout(consumer.disconnect(), 10000, 'consumer disconnect').catch(() => {});
  }
  return seen;
}

// Runs a consumer that is expected to fail: rejects with the error of subscribe, run or the crash
// event; resolves (a description) when a message is consumed after all.
async function consumerFailure(kafka, topic, groupId, timeoutMs = 30000) {
  const consumer = track(kafka.consumer({ groupId, retry: { retries: 0, restartOnFailure: async () => false } }));
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    return await withTimeout(new Promise((resolve, reject) => {
      consumer.on(consumer.events.CRASH, (ev) => reject(ev.payload.error));
      consumer.run({ eachMessage: async ({ message }) => resolve(`consumed "${message.value}"`) }).catch(reject);
    }), timeoutMs, `the consumer of ${topic} (group ${groupId}) to fail`);
  } finally {
    await withTimeout(consumer.disconnect(), 10000, 'consumer disconnect').catch(() => {});
  }
}

// Topics auto-created by Metadata requests of a kafkajs admin (AllowAutoTopicCreation): kafkajs
// admin.createTopics goes to the controller, and the embedded (librdkafka mock) cluster's Metadata
// names controller 0, which is no broker.
async function autoCreateTopics(adm, topics) {
  await waitFor(async () => {
    try { await adm.fetchTopicMetadata({ topics }); } catch (e) { return false; }
    const have = await adm.listTopics();
    return topics.every((t) => have.includes(t));
  }, 'the topics to be auto-created and listed', 20000, 250);
}

// ---- lettered steps: `spec` (e.g. process.env.ST_AUTHZ_STEPS, "b,c") selects a subset of `letters`.
function stepRunner(letters, spec) {
  const selected = new Set((spec || letters.split('').join(',')).split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
  const results = [];
  const anyFailed = () => results.some((x) => x.status === 'FAIL');
  async function step(letter, title, fn) {
    if (!selected.has(letter)) { results.push({ letter, title, status: 'skipped' }); return; }
    log(`== step ${letter}: ${title}`);
    try {
      await fn();
      results.push({ letter, title, status: 'PASS' });
      log(`   step ${letter}: PASS`);
    } catch (e) {
      results.push({ letter, title, status: 'FAIL', error: e.message });
      console.error(`   step ${letter}: FAIL: ${e.stack || e}`);
    } finally {
      await closeAll();
    }
  }
  // The end of a test: closes what is open, stops straitd (an unclean stop fails the test), prints
  // the log's tail on failure, removes the temp dir, prints the summary; exit 1 on failure.
  async function finish(name, d, dir, failed) {
    await closeAll();
    const r = await d.stop();
    if (r && r.code !== 0) {
      failed = true;
      console.error(`straitd did not stop cleanly: ${JSON.stringify(r)}`);
    }
    if (failed || anyFailed()) process.stdout.write(d.text().split('\n').slice(-300).join('\n'));
    removeTempDir(dir);
    console.log(`\nsummary (${name}):`);
    for (const x of results) console.log(`  ${x.letter}. ${x.status.padEnd(7)} ${x.title}${x.error ? `\n             ${x.error.split('\n')[0].slice(0, 300)}` : ''}`);
    if (failed || anyFailed()) process.exit(1);
    log('PASS');
  }
  return { selected, results, step, finish };
}

module.exports = {
  SOURCE_DIR, BUILD_DIR, interop, REGION, requireInteropOrSkip,
  log, check, waitFor, withTimeout, loopbackIps, tempDir, removeTempDir, endTest, straitAdmin, adminApply,
  Straitd, mskClient, signedRequest, iamAuthToken, clusterState, waitActive, connState, waitConn, createCluster,
  endpointKafka, track, closeAll, errChain, errText, errTypes, expectKafkaError, produce, consumeValues, consumerFailure,
  autoCreateTopics, stepRunner,
};
