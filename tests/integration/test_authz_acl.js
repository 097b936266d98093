// Kafka ACLs for SASL/SCRAM principals (issue 6) with real clients over real sockets: a provider
// account's cluster with SASL/SCRAM multi-VPC connectivity, three SCRAM users associated with it
// (admin, listed in straitd --kafka-super-users; alice; bob), a SASL_SCRAM VPC connection of the
// client account, kafkajs SCRAM-SHA-512 over TLS (DATA/tls/ca.pem). ACLs are managed through the
// endpoint with kafkajs admin.createAcls / describeAcls / deleteAcls (MSK sets
// allow.everyone.if.no.acl.found=false: no ACL, no access). Steps (ST_AUTHZ_STEPS=b,c runs a
// subset; setup always runs; every step creates the ACLs it relies on):
//  a. the super user lists every topic, produces and consumes without any ACL;
//  b. alice without ACLs: produce -> TOPIC_AUTHORIZATION_FAILED, listTopics lists nothing;
//  c. admin creates ALLOW alice WRITE+DESCRIBE on LITERAL orders, READ on PREFIXED logs-, READ on
//     group PREFIXED alice-: alice produces to orders, consumes logs-1 with group alice-g, lists
//     only what she may describe, and is denied on topic 'secret';
//  d. DENY READ on LITERAL logs-private beats the PREFIXED ALLOW;
//  e. admin.describeAcls with filters (principal, PREFIXED name, MATCH, resource type);
//  f. admin.deleteAcls removes alice's WRITE on orders: her connected producer is denied at its
//     next request, without reconnecting;
//  g. bob (no ACLs) is denied everywhere; the audit log has his denials;
//  h. `strait acl list --cluster-arn ARN --json` (operator CLI) shows what describeAcls shows.
//
// Environment: ST_BUILD_DIR (straitd, strait), ST_SOURCE_DIR, ST_AUTHZ_STEPS, ST_KEEP, ST_LOG_LEVEL.
// Exit 77 (skip) only when the node modules are missing. Every wait is bounded; nothing asserts on
// wall-clock time.
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const tls = require('tls');
const os = require('os');
const path = require('path');
const { createRequire } = require('module');

const SOURCE_DIR = process.env.ST_SOURCE_DIR || path.resolve(__dirname, '..', '..');
const BUILD_DIR = process.env.ST_BUILD_DIR || path.join(SOURCE_DIR, 'build');
let K;
let Kafka;
let logLevel;
let AclResourceTypes;
let AclOperationTypes;
let AclPermissionTypes;
let ResourcePatternTypes;
try {
  const interop = createRequire(path.join(SOURCE_DIR, 'tests', 'interop', 'package.json'));
  K = interop('@aws-sdk/client-kafka');
  ({ Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = interop('kafkajs'));
} catch (e) {
  console.log(`SKIP: node modules missing (cd tests/interop && npm ci): ${e.message}`);
  process.exit(77);
}
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const REGION = 'us-east-1';
const PROVIDER = '111122223333';
const CLIENT = '444455556666';
const CLUSTER_NAME = 'acls';
const KEYS = {
  admin: { accessKeyId: 'AKIAPROVIDERADMIN001', secretAccessKey: 'providerAdminSecret/0000000000000000000001' },
  dev: { accessKeyId: 'AKIACLIENTDEV0000001', secretAccessKey: 'clientDevSecret/000000000000000000000000001' },
};
const SCRAM = { admin: 'admin-secret-0001', alice: 'alice-secret-0001', bob: 'bob-secret-0001' };
const SUPER_USERS = 'User:admin';

const A = 100 + Math.floor(Math.random() * 150);
const B = Math.floor(Math.random() * 250) + 1;
const ip = (n) => `127.${A}.${B}.${n}`;
const RUN = Math.random().toString(36).slice(2, 8);

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


class Straitd {
  constructor(dir) { this.dir = dir; this.data = path.join(dir, 'data'); this.ready = path.join(dir, 'ready.json'); }
  async start(extra = []) {
    this.logFile = path.join(this.dir, 'straitd.log');
    const out = fs.openSync(this.logFile, 'a');
    this.proc = spawn(path.join(BUILD_DIR, 'straitd'), ['--data-dir', this.data, '--embedded-kafka', '1',
      '--insecure-endpoint', ip(1), '--api-listen', '127.0.0.1:0', '--ready-file', this.ready,
      '--metadata-refresh-ms', '1000', '--log-level', process.env.ST_LOG_LEVEL || 'info', ...extra],
    { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.exited = new Promise((r) => this.proc.on('exit', (code, sig) => r({ code, sig })));
    const ready = await Promise.race([waitFor(() => {
      try { return JSON.parse(fs.readFileSync(this.ready, 'utf8')); } catch (e) { return null; }
    }, 'the ready file'), this.exited.then((r) => { throw new Error(`straitd exited early: ${JSON.stringify(r)}`); })]);
    this.api = `http://${ready.apiEndpoint}`;
  }
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
}


async function waitActive(c, arn) {
  return waitFor(async () => {
    const i = (await c.send(new K.DescribeClusterV2Command({ ClusterArn: arn }))).ClusterInfo;
    return i.State === 'ACTIVE' ? i : null;
  }, `cluster ${arn} ACTIVE`);
}
async function waitConn(c, arn) {
  return waitFor(async () => (await c.send(new K.DescribeVpcConnectionCommand({ Arn: arn }))).State === 'AVAILABLE',
    `connection ${arn} AVAILABLE`);
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
const errTypes = (e) => errChain(e).map((x) => x.type).filter(Boolean);

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
// been seen too.
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

function applyDoc() {
  const apiActions = ['kafka:CreateVpcConnection', 'kafka:DescribeVpcConnection', 'kafka:ListVpcConnections',
    'kafka:GetBootstrapBrokers', 'kafka:DescribeCluster', 'kafka:DescribeClusterV2'];
  return {
    region: REGION,
    accounts: [
      { id: PROVIDER, name: 'provider',
        scramSecrets: Object.entries(SCRAM).map(([u, p]) => ({ name: `AmazonMSK_${u}`, username: u, password: p })),
        users: [{ name: 'admin', accessKeys: [{ id: KEYS.admin.accessKeyId, secret: KEYS.admin.secretAccessKey }],
          managedPolicies: ['AmazonMSKFullAccess'] }],
        vpcs: [{ id: 'vpc-provider', cidr: '10.0.0.0/16',
          subnets: [{ id: 'subnet-p1', azId: 'use1-az1', endpointAddress: ip(2) }],
          securityGroups: [{ id: 'sg-p', ingress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '127.0.0.0/8' }],
            egress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '0.0.0.0/0' }] }] }] },
      { id: CLIENT, name: 'client',
        users: [{ name: 'dev', accessKeys: [{ id: KEYS.dev.accessKeyId, secret: KEYS.dev.secretAccessKey }],
          inlinePolicies: { mvpc: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: apiActions, Resource: '*' }] } } }],
        vpcs: [{ id: 'vpc-client', cidr: '10.1.0.0/16',
          subnets: [{ id: 'subnet-c1', azId: 'use1-az1', endpointAddress: ip(4), endpointAddresses: [ip(7)] }],
          securityGroups: [{ id: 'sg-c', ingress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '127.0.0.0/8' }],
            egress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '0.0.0.0/0' }] }] }] },
    ],
  };
}

function clusterPolicy(clusterArn) {
  return JSON.stringify({ Version: '2012-10-17', Statement: [
    { Effect: 'Allow', Principal: { AWS: CLIENT }, Action: ['kafka:CreateVpcConnection', 'kafka:GetBootstrapBrokers',
      'kafka:DescribeCluster', 'kafka:DescribeClusterV2'], Resource: clusterArn }] });
}

// ---- kafkajs helpers
let caPem = null;
let brokers = null;
function client(user, id) {
  const counter = { sockets: 0 };
  const socketFactory = ({ host, port, ssl, onConnect }) => {
    counter.sockets++;
    const s = ssl ? tls.connect(Object.assign({ host, port }, net.isIP(host) ? {} : { servername: host }, ssl), onConnect)
      : net.connect({ host, port }, onConnect);
    s.setKeepAlive(true, 60000);
    return s;
  };
  const kafka = new Kafka({ brokers, clientId: id || user, ssl: { ca: [caPem] },
    sasl: { mechanism: 'scram-sha-512', username: user, password: SCRAM[user] }, logLevel: logLevel.NOTHING,
    retry: { retries: 0 }, connectionTimeout: 5000, authenticationTimeout: 5000, requestTimeout: 15000, socketFactory });
  kafka.counter = counter;
  return kafka;
}

// ---- ACL bindings: kafkajs numbers <-> Kafka names, one canonical string per binding
const rev = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [v, k]));
const RT = rev(AclResourceTypes);
const PT = rev(ResourcePatternTypes);
const OP = rev(AclOperationTypes);
const PERM = rev(AclPermissionTypes);
const acl = (resourceType, resourceName, resourcePatternType, principal, operation, permissionType) => ({
  resourceType: AclResourceTypes[resourceType], resourceName, resourcePatternType: ResourcePatternTypes[resourcePatternType],
  principal, host: '*', operation: AclOperationTypes[operation], permissionType: AclPermissionTypes[permissionType] });
const key = (b) => [RT[b.resourceType], PT[b.resourcePatternType], b.resourceName, b.principal, b.host, OP[b.operation],
  PERM[b.permissionType]].join(' ');
// A binding in strait's JSON form (acl.h: resourceType, resourceName, patternType, principal,
// host, operation, permissionType; enum names case-insensitive) -> the same canonical string.
const keyNamed = (b) => [String(b.resourceType).toUpperCase(), String(b.patternType || 'LITERAL').toUpperCase(),
  b.resourceName, b.principal, b.host || '*', String(b.operation).toUpperCase(), String(b.permissionType).toUpperCase()].join(' ');

const ALICE_WRITE_ORDERS = acl('TOPIC', 'orders', 'LITERAL', 'User:alice', 'WRITE', 'ALLOW');
const ALICE_DESCRIBE_ORDERS = acl('TOPIC', 'orders', 'LITERAL', 'User:alice', 'DESCRIBE', 'ALLOW');
const ALICE_READ_LOGS = acl('TOPIC', 'logs-', 'PREFIXED', 'User:alice', 'READ', 'ALLOW');
const ALICE_READ_GROUPS = acl('GROUP', 'alice-', 'PREFIXED', 'User:alice', 'READ', 'ALLOW');
const ALICE_BASE = [ALICE_WRITE_ORDERS, ALICE_DESCRIBE_ORDERS, ALICE_READ_LOGS, ALICE_READ_GROUPS];
const ALICE_DENY_PRIVATE = acl('TOPIC', 'logs-private', 'LITERAL', 'User:alice', 'READ', 'DENY');

// describeAcls result -> canonical strings
function flatten(resources) {
  const out = [];
  for (const r of resources || []) {
    for (const a of r.acls || []) {
      out.push(key({ resourceType: r.resourceType, resourceName: r.resourceName, resourcePatternType: r.resourcePatternType,
        principal: a.principal, host: a.host, operation: a.operation, permissionType: a.permissionType }));
    }
  }
  return out.sort();
}
const ANY_FILTER = { resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY,
  operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY };

// ---- steps
const ALL_STEPS = 'abcdefgh'.split('');
const selected = new Set((process.env.ST_AUTHZ_STEPS || ALL_STEPS.join(',')).split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
const results = [];

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

function straitHelp() {
  try { return execFileSync(path.join(BUILD_DIR, 'strait'), ['--help'], { encoding: 'utf8' }); } catch (e) { return `${e.stdout}${e.stderr}`; }
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st_authz_acl_'));
  const d = new Straitd(dir);
  let failed = false;
  try {
    await d.start(['--kafka-super-users', SUPER_USERS]);

    // ---- setup (always)
    const applyFile = path.join(dir, 'apply.json');
    fs.writeFileSync(applyFile, JSON.stringify(applyDoc()));
    execFileSync(path.join(BUILD_DIR, 'strait'), ['admin', '--data-dir', d.data, 'apply', applyFile], { encoding: 'utf8' });
    const admin = new K.KafkaClient({ region: REGION, endpoint: d.api, credentials: KEYS.admin, maxAttempts: 1 });
    const devApi = new K.KafkaClient({ region: REGION, endpoint: d.api, credentials: KEYS.dev, maxAttempts: 1 });
    const arn = (await admin.send(new K.CreateClusterV2Command({ ClusterName: CLUSTER_NAME,
      Provisioned: { KafkaVersion: '3.6.0', NumberOfBrokerNodes: 1,
        ClientAuthentication: { Sasl: { Scram: { Enabled: true } }, Unauthenticated: { Enabled: false } },
        BrokerNodeGroupInfo: { ClientSubnets: ['subnet-p1'], InstanceType: 'kafka.m5.large', SecurityGroups: ['sg-p'] } } }))).ClusterArn;
    let info = await waitActive(admin, arn);
    await admin.send(new K.UpdateConnectivityCommand({ ClusterArn: arn, CurrentVersion: info.CurrentVersion,
      ConnectivityInfo: { VpcConnectivity: { ClientAuthentication: { Sasl: { Scram: { Enabled: true } } } } } }));
    info = await waitActive(admin, arn);
    await admin.send(new K.PutClusterPolicyCommand({ ClusterArn: arn, Policy: clusterPolicy(arn) }));
    await admin.send(new K.BatchAssociateScramSecretCommand({ ClusterArn: arn,
      SecretArnList: Object.keys(SCRAM).map((u) => `arn:aws:secretsmanager:${REGION}:${PROVIDER}:secret:AmazonMSK_${u}`) }));
    const conn = (await devApi.send(new K.CreateVpcConnectionCommand({ TargetClusterArn: arn, VpcId: 'vpc-client',
      ClientSubnets: ['subnet-c1'], SecurityGroups: ['sg-c'], Authentication: 'SASL_SCRAM' }))).VpcConnectionArn;
    await waitConn(devApi, conn);
    const bb = await devApi.send(new K.GetBootstrapBrokersCommand({ ClusterArn: arn }));
    brokers = (bb.BootstrapBrokerStringVpcConnectivitySaslScram || '').split(',').filter(Boolean);
    check(brokers.length === 1, `SASL_SCRAM bootstrap string ${JSON.stringify(bb)}`);
    caPem = fs.readFileSync(path.join(d.data, 'tls', 'ca.pem'), 'utf8');
    log(`cluster ${arn}; SASL_SCRAM VPC connection ${conn} at ${brokers}; super users ${SUPER_USERS}`);

    const adminK = client('admin');
    const topics = ['orders', 'logs-1', 'logs-private', 'secret'];
    // Auto-created through Metadata by the super user (kafkajs admin.createTopics goes to the
    // controller, and the embedded mock cluster names controller 0, which is no broker).
    const sadm = track(adminK.admin());
    await sadm.connect();
    await waitFor(async () => {
      try { await sadm.fetchTopicMetadata({ topics }); } catch (e) { return false; }
      const have = await sadm.listTopics();
      return topics.every((t) => have.includes(t));
    }, 'the topics to be auto-created and listed', 20000, 250);
    for (const t of ['logs-1', 'logs-private', 'secret']) await produce(adminK, t, [`${t}-${RUN}`]);
    // kafkajs sends CreateAcls / DescribeAcls / DeleteAcls to the controller named by Metadata.
    const dc = await sadm.describeCluster();
    if (!dc.brokers.some((b) => b.nodeId === dc.controller)) {
      log(`WARNING: Metadata names controller ${dc.controller}, which is none of the brokers ${JSON.stringify(dc.brokers)}: ` +
        'kafkajs admin ACL calls fail with KafkaJSBrokerNotFound until the endpoint names a broker it exposes as controller');
    }
    await closeAll();
    log(`setup: topics ${topics.join(', ')} created and filled by the super user`);

    // Bindings created in this run (what describeAcls must return), kept as canonical strings.
    const live = new Set();
    const ensureAcls = async (bindings, why) => {
      const a = track(adminK.admin());
      await a.connect();
      await a.createAcls({ acl: bindings });
      bindings.forEach((b) => live.add(key(b)));
      log(`  admin.createAcls: ${why}`);
    };

    await step('a', 'the super user needs no ACL: lists, produces, consumes', async () => {
      const a = track(adminK.admin());
      await a.connect();
      const listed = await a.listTopics();
      check(topics.every((t) => listed.includes(t)), `listTopics ${JSON.stringify(listed)}`);
      await produce(adminK, 'orders', [`a-${RUN}`]);
      await consumeValues(adminK, 'orders', `admin-a-${RUN}`, [`a-${RUN}`]);
      log('  admin produced and consumed orders');
    });

    await step('b', 'alice without ACLs is denied', async () => {
      const alice = client('alice', 'alice-b');
      const a = track(alice.admin());
      await a.connect();
      log('  alice authenticated (SCRAM-SHA-512)');
      const listed = await a.listTopics();
      check(listed.length === 0, `listTopics for alice lists nothing: ${JSON.stringify(listed)}`);
      const p = track(alice.producer({ allowAutoTopicCreation: false }));
      await p.connect();
      await expectKafkaError('alice produces to orders', 'TOPIC_AUTHORIZATION_FAILED',
        () => p.send({ topic: 'orders', messages: [{ value: `b-${RUN}`, partition: 0 }] }));
    });

    await step('c', 'ALLOW ACLs for alice: LITERAL orders, PREFIXED logs-, PREFIXED group alice-', async () => {
      await ensureAcls(ALICE_BASE, 'ALLOW User:alice WRITE+DESCRIBE TOPIC LITERAL orders, READ TOPIC PREFIXED logs-, READ GROUP PREFIXED alice-');
      const alice = client('alice', 'alice-c');
      await produce(alice, 'orders', [`c-${RUN}`]);
      await consumeValues(adminK, 'orders', `admin-c-${RUN}`, [`c-${RUN}`]);
      log('  alice produced to orders (read back by admin)');
      await consumeValues(alice, 'logs-1', 'alice-g', [`logs-1-${RUN}`]);
      log('  alice consumed logs-1 with group alice-g');
      const a = track(alice.admin());
      await a.connect();
      const listed = (await a.listTopics()).sort();
      // READ implies DESCRIBE (Kafka): orders (DESCRIBE), logs-1 and logs-private (READ on logs-).
      check(JSON.stringify(listed) === JSON.stringify(['logs-1', 'logs-private', 'orders']), `listTopics for alice: ${JSON.stringify(listed)}`);
      const p = track(alice.producer({ allowAutoTopicCreation: false }));
      await p.connect();
      await expectKafkaError('alice produces to secret', 'TOPIC_AUTHORIZATION_FAILED',
        () => p.send({ topic: 'secret', messages: [{ value: `c-secret-${RUN}`, partition: 0 }] }));
      await expectKafkaError('alice consumes secret with group alice-s', 'TOPIC_AUTHORIZATION_FAILED',
        () => consumerFailure(alice, 'secret', 'alice-s'));
    });

    await step('d', 'DENY READ on LITERAL logs-private beats the PREFIXED ALLOW', async () => {
      await ensureAcls(ALICE_BASE, 'the ALLOW bindings of step c');
      await ensureAcls([ALICE_DENY_PRIVATE], 'DENY User:alice READ TOPIC LITERAL logs-private');
      const alice = client('alice', 'alice-d');
      // Metadata, FindCoordinator, JoinGroup, OffsetFetch and ListOffsets pass (DESCRIBE is still
      // implied by the PREFIXED READ; DENY READ does not deny DESCRIBE); Fetch is refused.
      await expectKafkaError('alice consumes logs-private with group alice-d', 'TOPIC_AUTHORIZATION_FAILED',
        () => consumerFailure(alice, 'logs-private', `alice-d-${RUN}`));
      await consumeValues(alice, 'logs-1', `alice-d1-${RUN}`, [`logs-1-${RUN}`]);
      log('  logs-1 (same PREFIXED ALLOW, no DENY) still consumable');
    });

    await step('e', 'admin.describeAcls with filters', async () => {
      await ensureAcls(ALICE_BASE, 'the ALLOW bindings of step c');
      await ensureAcls([ALICE_DENY_PRIVATE], 'the DENY binding of step d');
      const a = track(adminK.admin());
      await a.connect();
      const all = flatten((await a.describeAcls(ANY_FILTER)).resources);
      check(JSON.stringify(all) === JSON.stringify([...live].sort()), `describeAcls(ANY):\n  ${all.join('\n  ')}\nexpected\n  ${[...live].sort().join('\n  ')}`);
      log(`  ANY: ${all.length} bindings`);
      const byPrincipal = flatten((await a.describeAcls({ ...ANY_FILTER, principal: 'User:alice' })).resources);
      check(JSON.stringify(byPrincipal) === JSON.stringify([...live].filter((k) => k.includes(' User:alice ')).sort()),
        `describeAcls(principal User:alice): ${byPrincipal}`);
      const prefixed = flatten((await a.describeAcls({ ...ANY_FILTER, resourceType: AclResourceTypes.TOPIC,
        resourceName: 'logs-', resourcePatternType: ResourcePatternTypes.PREFIXED })).resources);
      check(JSON.stringify(prefixed) === JSON.stringify([key(ALICE_READ_LOGS)]), `describeAcls(TOPIC PREFIXED logs-): ${prefixed}`);
      const match = flatten((await a.describeAcls({ ...ANY_FILTER, resourceType: AclResourceTypes.TOPIC,
        resourceName: 'logs-private', resourcePatternType: ResourcePatternTypes.MATCH })).resources);
      check(JSON.stringify(match) === JSON.stringify([key(ALICE_READ_LOGS), key(ALICE_DENY_PRIVATE)].sort()),
        `describeAcls(TOPIC MATCH logs-private) = the PREFIXED ALLOW and the LITERAL DENY: ${match}`);
      const groups = flatten((await a.describeAcls({ ...ANY_FILTER, resourceType: AclResourceTypes.GROUP })).resources);
      check(JSON.stringify(groups) === JSON.stringify([key(ALICE_READ_GROUPS)]), `describeAcls(GROUP): ${groups}`);
      const denies = flatten((await a.describeAcls({ ...ANY_FILTER, permissionType: AclPermissionTypes.DENY })).resources);
      check(JSON.stringify(denies) === JSON.stringify([key(ALICE_DENY_PRIVATE)]), `describeAcls(DENY): ${denies}`);
      log('  principal, PREFIXED name, MATCH, resource type and permission filters return the expected bindings');
    });

    await step('f', 'admin.deleteAcls: alice is denied at her next request, without reconnecting', async () => {
      await ensureAcls(ALICE_BASE, 'the ALLOW bindings of step c');
      const alice = client('alice', 'alice-f');
      const p = track(alice.producer({ allowAutoTopicCreation: false }));
      await p.connect();
      await p.send({ topic: 'orders', messages: [{ value: `f-1-${RUN}`, partition: 0 }] });
      const sockets = alice.counter.sockets;
      log(`  alice send 1 OK (${sockets} socket(s))`);
      const a = track(adminK.admin());
      await a.connect();
      const del = await a.deleteAcls({ filters: [{ resourceType: AclResourceTypes.TOPIC, resourceName: 'orders',
        resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:alice', host: '*',
        operation: AclOperationTypes.WRITE, permissionType: AclPermissionTypes.ALLOW }] });
      check(del.filterResponses.length === 1 && del.filterResponses[0].errorCode === 0 &&
        del.filterResponses[0].matchingAcls.length === 1, `deleteAcls response ${JSON.stringify(del)}`);
      live.delete(key(ALICE_WRITE_ORDERS));
      log('  admin.deleteAcls removed ALLOW User:alice WRITE TOPIC LITERAL orders');
      await expectKafkaError('alice send 2 on the same producer', 'TOPIC_AUTHORIZATION_FAILED',
        () => p.send({ topic: 'orders', messages: [{ value: `f-2-${RUN}`, partition: 0 }] }));
      check(alice.counter.sockets === sockets, `no reconnect: ${alice.counter.sockets} sockets, was ${sockets}`);
      const after = flatten((await a.describeAcls(ANY_FILTER)).resources);
      check(!after.includes(key(ALICE_WRITE_ORDERS)) && after.includes(key(ALICE_DESCRIBE_ORDERS)), `describeAcls after delete: ${after}`);
    });

    await step('g', 'bob (no ACLs) is denied everywhere', async () => {
      await ensureAcls(ALICE_BASE, 'alice\'s ALLOW bindings (they must not leak to bob)');
      const bob = client('bob');
      const a = track(bob.admin());
      await a.connect();
      const listed = await a.listTopics();
      check(listed.length === 0, `listTopics for bob lists nothing: ${JSON.stringify(listed)}`);
      const p = track(bob.producer({ allowAutoTopicCreation: false }));
      await p.connect();
      await expectKafkaError('bob produces to orders', 'TOPIC_AUTHORIZATION_FAILED',
        () => p.send({ topic: 'orders', messages: [{ value: `g-${RUN}`, partition: 0 }] }));
      await expectKafkaError('bob consumes logs-1 with group alice-g', ['TOPIC_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED'],
        () => consumerFailure(bob, 'logs-1', 'alice-g'));
      await expectKafkaError('bob describes ACLs', 'CLUSTER_AUTHORIZATION_FAILED',
        () => a.describeAcls(ANY_FILTER));
      const auditPath = path.join(d.data, 'audit.log');
      const rec = await waitFor(() => {
        try {
          return fs.readFileSync(auditPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
            .find((r) => r.principal === 'User:bob' && String(r.decision).toUpperCase() === 'DENY');
        } catch (e) { return null; }
      }, `a DENY record for User:bob in ${auditPath}`, 10000, 200);
      log(`  audit: ${JSON.stringify(rec)}`);
      check(!fs.readFileSync(auditPath, 'utf8').includes(SCRAM.bob), 'no SCRAM password in the audit log');
    });

    await step('h', '`strait acl list --cluster-arn ARN --json` shows what describeAcls shows', async () => {
      await ensureAcls(ALICE_BASE, 'the ALLOW bindings of step c');
      const a = track(adminK.admin());
      await a.connect();
      const viaKafka = flatten((await a.describeAcls(ANY_FILTER)).resources);
      const out = execFileSync(path.join(BUILD_DIR, 'strait'), ['acl', 'list', '--data-dir', d.data, '--cluster-arn', arn, '--json'],
        { encoding: 'utf8', timeout: 15000 });
      let parsed = JSON.parse(out);
      if (!Array.isArray(parsed)) parsed = parsed.acls;
      check(Array.isArray(parsed), `strait acl list --json has an "acls" list: ${out}`);
      const viaCli = parsed.map(keyNamed).sort();
      check(JSON.stringify(viaCli) === JSON.stringify(viaKafka), `strait acl list:\n  ${viaCli.join('\n  ')}\ndescribeAcls:\n  ${viaKafka.join('\n  ')}`);
      log(`  strait acl list --json: the same ${viaCli.length} bindings`);
    });
  } catch (e) {
    failed = true;
    console.error(`FAIL (setup): ${e.stack || e}`);
  } finally {
    await closeAll();
    const r = await d.stop();
    if (r && r.code !== 0) {
      failed = true;
      console.error(`straitd did not stop cleanly: ${JSON.stringify(r)}`);
    }
    if (failed || results.some((x) => x.status === 'FAIL')) process.stdout.write(d.text().split('\n').slice(-300).join('\n'));
    if (!process.env.ST_KEEP) fs.rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  }
  console.log('\nsummary (test_authz_acl):');
  for (const x of results) console.log(`  ${x.letter}. ${x.status.padEnd(7)} ${x.title}${x.error ? `\n             ${x.error.split('\n')[0].slice(0, 300)}` : ''}`);
  if (failed || results.some((x) => x.status === 'FAIL')) process.exit(1);
  log('PASS');
}

main().catch((e) => { console.error(e); process.exit(1); });
