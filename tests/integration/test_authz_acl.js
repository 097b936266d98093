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
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const h = require('./harness');
const { BUILD_DIR, REGION, log, check, waitFor, track, closeAll, expectKafkaError, produce, consumeValues, consumerFailure } = h;

const { K, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = h.requireInteropOrSkip(
  (interop) => ({ K: interop('@aws-sdk/client-kafka'), ...interop('kafkajs') }));

const PROVIDER = '111122223333';
const CLIENT = '444455556666';
const CLUSTER_NAME = 'acls';
const KEYS = {
  admin: { accessKeyId: 'AKIAPROVIDERADMIN001', secretAccessKey: 'providerAdminSecret/0000000000000000000001' },
  dev: { accessKeyId: 'AKIACLIENTDEV0000001', secretAccessKey: 'clientDevSecret/000000000000000000000000001' },
};
const SCRAM = { admin: 'admin-secret-0001', alice: 'alice-secret-0001', bob: 'bob-secret-0001' };
const SUPER_USERS = 'User:admin';

const ip = h.loopbackIps();
const RUN = Math.random().toString(36).slice(2, 8);

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
  return h.endpointKafka({ brokers, clientId: id || user, ca: caPem,
    sasl: { mechanism: 'scram-sha-512', username: user, password: SCRAM[user] },
    retry: { retries: 0 }, requestTimeout: 15000, countSockets: true });
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
const { step, finish } = h.stepRunner('abcdefgh', process.env.ST_AUTHZ_STEPS);

function straitHelp() {
  try { return execFileSync(path.join(BUILD_DIR, 'strait'), ['--help'], { encoding: 'utf8' }); } catch (e) { return `${e.stdout}${e.stderr}`; }
}

async function main() {
  const dir = h.tempDir('st_authz_acl_');
  const d = new h.Straitd(dir, { endpoint: ip(1) });
  let failed = false;
  try {
    await d.start(['--kafka-super-users', SUPER_USERS]);

    // ---- setup (always)
    h.adminApply(d, applyDoc());
    const admin = h.mskClient(d, KEYS.admin);
    const devApi = h.mskClient(d, KEYS.dev);
    const { arn } = await h.createCluster(admin, { name: CLUSTER_NAME, brokers: 1, subnets: ['subnet-p1'], securityGroups: ['sg-p'],
      clientAuthentication: { Sasl: { Scram: { Enabled: true } }, Unauthenticated: { Enabled: false } },
      vpcConnectivity: { Sasl: { Scram: { Enabled: true } } } });
    await admin.send(new K.PutClusterPolicyCommand({ ClusterArn: arn, Policy: clusterPolicy(arn) }));
    await admin.send(new K.BatchAssociateScramSecretCommand({ ClusterArn: arn,
      SecretArnList: Object.keys(SCRAM).map((u) => `arn:aws:secretsmanager:${REGION}:${PROVIDER}:secret:AmazonMSK_${u}`) }));
    const conn = (await devApi.send(new K.CreateVpcConnectionCommand({ TargetClusterArn: arn, VpcId: 'vpc-client',
      ClientSubnets: ['subnet-c1'], SecurityGroups: ['sg-c'], Authentication: 'SASL_SCRAM' }))).VpcConnectionArn;
    await h.waitConn(devApi, conn);
    const bb = await devApi.send(new K.GetBootstrapBrokersCommand({ ClusterArn: arn }));
    brokers = (bb.BootstrapBrokerStringVpcConnectivitySaslScram || '').split(',').filter(Boolean);
    check(brokers.length === 1, `SASL_SCRAM bootstrap string ${JSON.stringify(bb)}`);
    caPem = d.endpointCa();
    log(`cluster ${arn}; SASL_SCRAM VPC connection ${conn} at ${brokers}; super users ${SUPER_USERS}`);

    const adminK = client('admin');
    const topics = ['orders', 'logs-1', 'logs-private', 'secret'];
    // Auto-created through Metadata by the super user (kafkajs admin.createTopics goes to the
    // controller, and the embedded mock cluster names controller 0, which is no broker).
    const sadm = track(adminK.admin());
    await sadm.connect();
    await h.autoCreateTopics(sadm, topics);
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
  }
  await finish('test_authz_acl', d, dir, failed);
}

main().catch((e) => { console.error(e); process.exit(1); });
