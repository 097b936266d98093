// SASL termination on VPC-connection endpoints with real clients (issue 5, msk-client-auth.md):
// a provider account's cluster with SASL/IAM and SASL/SCRAM multi-VPC connectivity, a cluster
// policy for the client account, one SASL_IAM and one SASL_SCRAM VPC connection; then
//  - kafkajs + @jm18457/kafkajs-msk-iam-authentication-mechanism (AWS_MSK_IAM) with the keys of a
//    user of the client account, and kafkajs OAUTHBEARER with aws-msk-iam-sasl-signer-js tokens
//    for an assumed-role session: produce and consume;
//  - python3 confluent-kafka (SCRAM-SHA-512, OAUTHBEARER via oauth_cb), kcat SCRAM and raw-frame
//    negatives (auth_clients.py);
//  - negatives, each refused with the right Kafka error and a log line: wrong secret key, no
//    kafka-cluster:Connect, expired token, token for another region, replayed signature outside
//    the window, another host in the AWS_MSK_IAM payload, unsupported mechanism.
//
// Environment: ST_BUILD_DIR (straitd, strait), ST_SOURCE_DIR. Every wait is bounded; nothing
// asserts on wall-clock time.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const tls = require('tls');
const path = require('path');
const h = require('./harness');
const { SOURCE_DIR, BUILD_DIR, interop, REGION, log, check, waitFor, waitConn } = h;

const K = interop('@aws-sdk/client-kafka');
const STS = interop('@aws-sdk/client-sts');
const { Kafka, logLevel } = interop('kafkajs');
const { createMechanism } = interop('@jm18457/kafkajs-msk-iam-authentication-mechanism');
const { generateAuthTokenFromCredentialsProvider } = interop('aws-msk-iam-sasl-signer-js');
interop('@smithy/signature-v4'); // h.iamAuthToken
interop('@aws-crypto/sha256-js');

const PROVIDER = '111122223333';
const CLIENT = '444455556666';
const KEYS = {
  admin: { accessKeyId: 'AKIAPROVIDERADMIN001', secretAccessKey: 'providerAdminSecret/0000000000000000000001' },
  owner: { accessKeyId: 'AKIAPROVIDERAPP00001', secretAccessKey: 'providerAppSecret/00000000000000000000001' },
  dev: { accessKeyId: 'AKIACLIENTDEV0000001', secretAccessKey: 'clientDevSecret/000000000000000000000000001' },
  nocon: { accessKeyId: 'AKIACLIENTNOCONNECT1', secretAccessKey: 'clientNoConnectSecret/0000000000000000001' },
};

const ip = h.loopbackIps();

// Authentication is under test here, not authorization (test_authz_*): the SCRAM user and the
// mutual-TLS principals are Kafka super users, so they need no ACLs.
class Straitd extends h.Straitd {
  constructor(dir) { super(dir, { endpoint: ip(1) }); }
  args() {
    return super.args().concat(['--kafka-super-users', 'User:alice;User:CN=mtls-client,O=payments;User:mtls-client@payments']);
  }
}

function applyDoc() {
  const apiActions = ['kafka:CreateVpcConnection', 'kafka:DescribeVpcConnection', 'kafka:ListVpcConnections',
    'kafka:GetBootstrapBrokers', 'kafka:DescribeCluster', 'kafka:DescribeClusterV2'];
  return {
    region: REGION,
    accounts: [
      { id: PROVIDER, name: 'provider',
        scramSecrets: [{ name: 'AmazonMSK_alice', username: 'alice', password: 'alice-secret' }],
        users: [{ name: 'admin', accessKeys: [{ id: KEYS.admin.accessKeyId, secret: KEYS.admin.secretAccessKey }],
          managedPolicies: ['AmazonMSKFullAccess'] },
          // A same-account client of the cluster's own in-VPC endpoints (no VPC connection).
          { name: 'app', accessKeys: [{ id: KEYS.owner.accessKeyId, secret: KEYS.owner.secretAccessKey }],
            inlinePolicies: { kc: { Version: '2012-10-17', Statement: [
              { Effect: 'Allow', Action: 'kafka-cluster:*', Resource: '*' }] } } }],
        vpcs: [{ id: 'vpc-provider', cidr: '10.0.0.0/16',
          subnets: [{ id: 'subnet-p1', azId: 'use1-az1', endpointAddress: ip(2) }],
          securityGroups: [{ id: 'sg-p', ingress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '127.0.0.0/8' }],
            egress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '0.0.0.0/0' }] }] }] },
      { id: CLIENT, name: 'client',
        users: [
          { name: 'dev', accessKeys: [{ id: KEYS.dev.accessKeyId, secret: KEYS.dev.secretAccessKey }],
            inlinePolicies: { mvpc: { Version: '2012-10-17', Statement: [
              { Effect: 'Allow', Action: apiActions.concat(['kafka-cluster:*']), Resource: '*' },
              { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: `arn:aws:iam::${CLIENT}:role/connector` }] } } },
          { name: 'nocon', accessKeys: [{ id: KEYS.nocon.accessKeyId, secret: KEYS.nocon.secretAccessKey }],
            inlinePolicies: { api: { Version: '2012-10-17', Statement: [
              { Effect: 'Allow', Action: apiActions, Resource: '*' }] } } }],
        roles: [{ name: 'connector',
          trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${CLIENT}:user/dev` }, Action: 'sts:AssumeRole' }] },
          inlinePolicies: { kc: { Version: '2012-10-17', Statement: [
            { Effect: 'Allow', Action: 'kafka-cluster:*', Resource: '*' }] } } }],
        vpcs: [{ id: 'vpc-client', cidr: '10.1.0.0/16',
          subnets: [{ id: 'subnet-c1', azId: 'use1-az1', endpointAddress: ip(4), endpointAddresses: [ip(7)] },
            { id: 'subnet-c2', azId: 'use1-az2', endpointAddress: ip(5), endpointAddresses: [ip(8)] }],
          securityGroups: [{ id: 'sg-c', ingress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '127.0.0.0/8' }],
            egress: [{ protocol: 'tcp', ports: '14001-14100', cidr: '0.0.0.0/0' }] }] }] },
    ],
  };
}

function clusterPolicy(clusterArn) {
  const [, , , , , res] = clusterArn.split(':');
  const [, name, uuid] = res.split('/');
  const base = clusterArn.slice(0, clusterArn.indexOf(':cluster/'));
  return JSON.stringify({ Version: '2012-10-17', Statement: [
    { Effect: 'Allow', Principal: { AWS: CLIENT }, Action: ['kafka:CreateVpcConnection', 'kafka:GetBootstrapBrokers',
      'kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka-cluster:*'], Resource: clusterArn },
    { Effect: 'Allow', Principal: { AWS: CLIENT }, Action: 'kafka-cluster:*', Resource: `${base}:topic/${name}/${uuid}/*` },
    { Effect: 'Allow', Principal: { AWS: CLIENT }, Action: 'kafka-cluster:*', Resource: `${base}:group/${name}/${uuid}/*` }] });
}

async function produceConsume(kafka, topic, value) {
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  await producer.send({ topic, messages: [{ key: 'k', value }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: `g-${topic}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no message consumed from ${topic} within 30 s`)), 30000);
    consumer.run({ eachMessage: async ({ message }) => { clearTimeout(t); resolve(message.value.toString()); } });
  });
  await consumer.disconnect();
  check(got === value, `consumed ${got}, expected ${value}`);
}

// VPC-connection endpoints are TLS with a certificate from the installation CA (DATA/tls/ca.pem).
let caPem = null;
function client(brokers, sasl, id) {
  return h.endpointKafka({ brokers, clientId: id, sasl, ca: caPem, retry: { retries: 0 } });
}

// Connects an admin client and expects a SASL authentication failure whose message matches re.
async function expectAuthFailure(brokers, sasl, re, what) {
  const adm = client(brokers, sasl, 'neg').admin();
  try {
    await adm.connect();
  } catch (e) {
    const msg = `${e.name}${e.type ? ` (${e.type})` : ''}: ${e.message}`;
    // The Kafka error: SASL_AUTHENTICATION_FAILED (58) as a protocol error (plug-ins) or as
    // kafkajs' own SASL authentication error (built-in mechanisms); UNSUPPORTED_SASL_MECHANISM.
    check(['SASL_AUTHENTICATION_FAILED', 'UNSUPPORTED_SASL_MECHANISM'].includes(e.type) ||
      e.name === 'KafkaJSSASLAuthenticationError', `${what}: not an authentication error: ${msg}`);
    check(re.test(msg), `${what}: "${msg}" does not match ${re}`);
    log(`  ok: ${what}: ${msg.slice(0, 200)}`);
    return;
  } finally {
    await adm.disconnect().catch(() => {});
  }
  throw new Error(`${what}: connected, expected an authentication failure`);
}

async function main() {
  const dir = h.tempDir('st_auth_');
  const d = new Straitd(dir);
  let failed = false;
  try {
    await d.start();
    h.adminApply(d, applyDoc());
    const admin = h.mskClient(d, KEYS.admin);
    const dev = h.mskClient(d, KEYS.dev);

    const { arn } = await h.createCluster(admin, { name: 'authdemo', brokers: 1, subnets: ['subnet-p1'], securityGroups: ['sg-p'],
      clientAuthentication: { Sasl: { Iam: { Enabled: true }, Scram: { Enabled: true } }, Unauthenticated: { Enabled: false },
        Tls: { Enabled: true, CertificateAuthorityArnList: [`arn:aws:acm-pca:${REGION}:${PROVIDER}:certificate-authority/strait`] } },
      vpcConnectivity: { Sasl: { Iam: { Enabled: true }, Scram: { Enabled: true } }, Tls: { Enabled: true } } });
    await admin.send(new K.PutClusterPolicyCommand({ ClusterArn: arn, Policy: clusterPolicy(arn) }));
    await admin.send(new K.BatchAssociateScramSecretCommand({ ClusterArn: arn,
      SecretArnList: [`arn:aws:secretsmanager:${REGION}:${PROVIDER}:secret:AmazonMSK_alice`] }));
    const req = { TargetClusterArn: arn, VpcId: 'vpc-client', ClientSubnets: ['subnet-c1'], SecurityGroups: ['sg-c'] };
    const iamConn = (await dev.send(new K.CreateVpcConnectionCommand({ ...req, Authentication: 'SASL_IAM' }))).VpcConnectionArn;
    const scramConn = (await dev.send(new K.CreateVpcConnectionCommand({ ...req, Authentication: 'SASL_SCRAM' }))).VpcConnectionArn;
    const tlsConn = (await dev.send(new K.CreateVpcConnectionCommand({ ...req, Authentication: 'TLS' }))).VpcConnectionArn;
    await waitConn(dev, iamConn);
    await waitConn(dev, scramConn);
    await waitConn(dev, tlsConn);
    const bb = await dev.send(new K.GetBootstrapBrokersCommand({ ClusterArn: arn }));
    const iamBrokers = (bb.BootstrapBrokerStringVpcConnectivitySaslIam || '').split(',').filter(Boolean);
    const scramBrokers = (bb.BootstrapBrokerStringVpcConnectivitySaslScram || '').split(',').filter(Boolean);
    const tlsBrokers = (bb.BootstrapBrokerStringVpcConnectivityTls || '').split(',').filter(Boolean);
    check(tlsBrokers.length >= 1, `TLS bootstrap string ${JSON.stringify(bb)}`);
    check(iamBrokers.length >= 1 && scramBrokers.length >= 1, `bootstrap strings ${JSON.stringify(bb)}`);
    log(`SASL_IAM endpoints ${iamBrokers}, SASL_SCRAM endpoints ${scramBrokers}`);
    const caPath = path.join(d.data, 'tls', 'ca.pem');
    caPem = fs.readFileSync(caPath, 'utf8');
    check(/BEGIN CERTIFICATE/.test(caPem), 'the installation CA certificate exists');
    const exported = h.straitAdmin(d, ['ca-certificate']);
    check(exported === caPem, '`strait admin ca-certificate` exports the CA');
    // `strait kafka get-ca-certificate`: any authenticated principal (here a user of the client
    // account) reads the CA through the SigV4-signed API; PEM by default, JSON on request.
    const kenv = { ...process.env, STRAIT_ENDPOINT_URL: d.api, AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: KEYS.nocon.accessKeyId, AWS_SECRET_ACCESS_KEY: KEYS.nocon.secretAccessKey };
    const strait = (args, env = kenv) => execFileSync(path.join(BUILD_DIR, 'strait'), args, { encoding: 'utf8', env });
    check(strait(['kafka', 'get-ca-certificate']) === caPem, '`strait kafka get-ca-certificate` prints the CA');
    check(JSON.parse(strait(['kafka', 'get-ca-certificate', '--output', 'json'])).CaCertificate === caPem,
      '`strait kafka get-ca-certificate --output json` gives {"CaCertificate": ...}');
    let badKey = null;
    try { strait(['kafka', 'get-ca-certificate'], { ...kenv, AWS_SECRET_ACCESS_KEY: 'wrong/00000000000000000000000000000000000' }); } catch (e) { badKey = e; }
    check(badKey && badKey.status === 254 && /SignatureDoesNotMatch|signature/i.test(String(badKey.stderr)),
      'get-ca-certificate is SigV4-authenticated like the MSK operations');
    const ci = strait(['kafka', 'connection-info', iamConn], { ...kenv, AWS_ACCESS_KEY_ID: KEYS.dev.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KEYS.dev.secretAccessKey });
    check(ci.includes(caPem.trim()) && /ssl.truststore.location/.test(ci), `connection-info shows the CA: ${ci}`);
    log('strait kafka get-ca-certificate (PEM and JSON) and connection-info carry the CA');
    // A mutual-TLS client certificate from the installation CA.
    const clientOut = path.join(dir, 'client');
    h.straitAdmin(d, ['issue-client-certificate', 'mtls-client', clientOut, '--org', 'payments']);
    check((fs.statSync(`${clientOut}.key`).mode & 0o077) === 0, 'the client key is private (0600)');
    check((fs.statSync(path.join(d.data, 'tls', 'ca.key')).mode & 0o077) === 0, 'the CA key is private (0600)');

    // ---- AWS_MSK_IAM with a user of the client account (cross-account: identity + cluster policy)
    await produceConsume(client(iamBrokers, createMechanism({ region: REGION, credentials: KEYS.dev }), 'iam-user'),
      'iam-user', 'via AWS_MSK_IAM');
    log('kafkajs AWS_MSK_IAM (user of another account): produce + consume');

    // ---- the cluster's own in-VPC endpoints (GetBootstrapBrokers' SaslIam/SaslScram/Tls strings):
    // TLS with the schemes the cluster enables, for a same-account client without a VPC connection
    const own = await admin.send(new K.GetBootstrapBrokersCommand({ ClusterArn: arn }));
    const ownIam = (own.BootstrapBrokerStringSaslIam || '').split(',').filter(Boolean);
    const ownScram = (own.BootstrapBrokerStringSaslScram || '').split(',').filter(Boolean);
    check(ownIam.length >= 1 && ownIam[0].startsWith(`${ip(2)}:`) && ownScram.join() === ownIam.join() &&
      (own.BootstrapBrokerStringTls || '') === ownIam.join() && !own.BootstrapBrokerString,
    `in-VPC strings: IAM, SCRAM and TLS, no plaintext string: ${JSON.stringify(own)}`);
    await produceConsume(client(ownIam, createMechanism({ region: REGION, credentials: KEYS.owner }), 'own-iam'),
      'own-iam', 'in-VPC via AWS_MSK_IAM');
    await produceConsume(client(ownScram, { mechanism: 'scram-sha-512', username: 'alice', password: 'alice-secret' }, 'own-scram'),
      'own-scram', 'in-VPC via SCRAM');
    await expectAuthFailure(ownIam, createMechanism({ region: REGION, credentials: { ...KEYS.owner, secretAccessKey: 'wrong/0000000000000000000000000000000000' } }),
      /signature does not match/, 'in-VPC endpoint: wrong secret key');
    const plain = new Kafka({ brokers: ownIam, clientId: 'own-plain', logLevel: logLevel.NOTHING, retry: { retries: 0 },
      connectionTimeout: 3000, requestTimeout: 3000 }).admin();
    let plainErr = null;
    try { await plain.connect(); await plain.listTopics(); } catch (e) { plainErr = e; }
    await plain.disconnect().catch(() => {});
    check(plainErr, 'a plaintext unauthenticated client is refused on the in-VPC endpoint');
    log(`kafkajs through the cluster's own in-VPC endpoint ${ownIam}: AWS_MSK_IAM and SCRAM produce + consume; plaintext refused`);

    // ---- OAUTHBEARER tokens from aws-msk-iam-sasl-signer-js for an assumed-role session
    const sts = new STS.STSClient({ region: REGION, endpoint: d.api, credentials: KEYS.dev, maxAttempts: 1 });
    const ar = await sts.send(new STS.AssumeRoleCommand({ RoleArn: `arn:aws:iam::${CLIENT}:role/connector`, RoleSessionName: 'oauth-session' }));
    const role = { accessKeyId: ar.Credentials.AccessKeyId, secretAccessKey: ar.Credentials.SecretAccessKey,
      sessionToken: ar.Credentials.SessionToken };
    const oauth = { mechanism: 'oauthbearer', oauthBearerProvider: async () => {
      const t = await generateAuthTokenFromCredentialsProvider({ region: REGION, awsCredentialsProvider: async () => role });
      return { value: t.token };
    } };
    await produceConsume(client(iamBrokers, oauth, 'oauth-role'), 'oauth-role', 'via OAUTHBEARER');
    log('kafkajs OAUTHBEARER (assumed-role session): produce + consume');
    // The same role through AWS_MSK_IAM (session token in the payload).
    await produceConsume(client(iamBrokers, createMechanism({ region: REGION, credentials: role }), 'iam-role'),
      'iam-role', 'via AWS_MSK_IAM as a role');
    log('kafkajs AWS_MSK_IAM (assumed-role session): produce + consume');

    // ---- negatives (kafkajs)
    await expectAuthFailure(iamBrokers, createMechanism({ region: REGION, credentials: { ...KEYS.dev, secretAccessKey: 'wrong/0000000000000000000000000000000000' } }),
      /signature does not match/, 'wrong secret key');
    await expectAuthFailure(iamBrokers, createMechanism({ region: REGION, credentials: KEYS.nocon }),
      /Access denied.*not authorized to perform: kafka-cluster:Connect/, 'principal without kafka-cluster:Connect');
    await expectAuthFailure(iamBrokers, createMechanism({ region: 'eu-west-1', credentials: KEYS.dev }),
      /Access denied/, 'AWS_MSK_IAM payload for another region');
    await expectAuthFailure(iamBrokers, { mechanism: 'plain', username: 'alice', password: 'alice-secret' },
      /PLAIN|mechanism/i, 'a mechanism the endpoint does not offer (PLAIN)');
    await expectAuthFailure(scramBrokers, { mechanism: 'scram-sha-512', username: 'alice', password: 'wrong' },
      /invalid credentials with SASL mechanism SCRAM-SHA-512/, 'wrong SCRAM password');

    // ---- python3 confluent-kafka, kcat and raw frames
    const env = { ...process.env, ST_IAM_BROKERS: iamBrokers.join(','), ST_SCRAM_BROKERS: scramBrokers.join(','),
      ST_REGION: REGION, ST_OAUTH_TOKEN: (await generateAuthTokenFromCredentialsProvider({ region: REGION,
        awsCredentialsProvider: async () => KEYS.dev })).token,
      ST_ROLE_KEY: role.accessKeyId, ST_ROLE_SECRET: role.secretAccessKey, ST_ROLE_TOKEN: role.sessionToken,
      ST_CA: caPath, ST_TLS_BROKERS: tlsBrokers.join(','), ST_CLIENT_CERT: `${clientOut}.pem`,
      ST_CLIENT_KEY: `${clientOut}.key`, ST_WORK_DIR: dir, ST_DEV_KEY: KEYS.dev.accessKeyId, ST_DEV_SECRET: KEYS.dev.secretAccessKey,
      // OAUTHBEARER negatives go through librdkafka, which answers the RFC 7628 error challenge
      // (kafkajs takes the challenge for a success and only fails on its next request).
      ST_EXPIRED_TOKEN: await h.iamAuthToken(role, { date: new Date(Date.now() - 3600 * 1000) }),
      // Signed for eu-west-1 but naming this region's host: only the credential scope is wrong.
      ST_OTHER_REGION_TOKEN: await h.iamAuthToken(role, { region: 'eu-west-1', host: `kafka.${REGION}.amazonaws.com` }),
      ST_OTHER_HOST_TOKEN: await h.iamAuthToken(role, { host: 'kafka.example.com' }) };
    execFileSync('/usr/bin/python3', [path.join(SOURCE_DIR, 'tests', 'integration', 'auth_clients.py')],
      { env, stdio: 'inherit', timeout: 240000 });

    // ---- ssl.principal.mapping.rules from DATA/tls/principal-mapping-rules (picked up live)
    const reloads = () => (d.text().match(/TLS: certificates in .* changed/g) || []).length;
    const before = reloads();
    fs.writeFileSync(path.join(d.data, 'tls', 'principal-mapping-rules'), 'RULE:^CN=(.*?),O=(.*)$/$1@$2/L,DEFAULT\n');
    await waitFor(() => reloads() > before, 'the mapping rules picked up', 20000, 250);
    execFileSync('kcat', ['-b', tlsBrokers[0], '-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${caPath}`,
      '-X', `ssl.certificate.location=${clientOut}.pem`, '-X', `ssl.key.location=${clientOut}.key`, '-L', '-m', '15'],
    { stdio: 'pipe', timeout: 60000 });
    await waitFor(() => /authenticated User:mtls-client@payments with mutual TLS/.test(d.text()),
      'the mapped mutual-TLS principal in the log', 10000, 100);
    log('mutual TLS principal mapped by ssl.principal.mapping.rules: User:mtls-client@payments');

    // ---- every refusal left a log line
    const text = d.text();
    for (const re of [/AWS_MSK_IAM authentication failed: signature does not match/,
      /not authorized to perform: kafka-cluster:Connect/,
      /OAUTHBEARER authentication failed/,
      /client requested SASL mechanism 'PLAIN'; this endpoint offers AWS_MSK_IAM/,
      /SCRAM-SHA-512 authentication failed: user alice/,
      /Unexpected Kafka request of type Metadata during SASL handshake/,
      /authenticated User:alice with SCRAM-SHA-512/,
      /authenticated arn:aws:sts::444455556666:assumed-role\/connector\/oauth-session with OAUTHBEARER/,
      /authenticated arn:aws:iam::444455556666:user\/dev with AWS_MSK_IAM/,
      /plaintext client on a TLS endpoint/,
      /authenticated User:CN=mtls-client,O=payments with mutual TLS/,
      /TLS handshake failed: certificate verify failed/,
      /TLS handshake failed/]) {
      check(re.test(text), `straitd log has ${re}`);
    }
    check(!text.includes(KEYS.dev.secretAccessKey) && !text.includes('alice-secret') && !text.includes(role.sessionToken),
      'no secret in the log');
    log('log lines present, no secrets logged');

    // ---- operator-supplied certificate, reloaded without a restart; open connections keep theirs
    const open = client(iamBrokers, createMechanism({ region: REGION, credentials: KEYS.dev }), 'reload-open').admin();
    await open.connect();
    const tlsDir = path.join(d.data, 'tls');
    const [epHost, epPort] = iamBrokers[0].split(':');
    const ossl = (args) => execFileSync('openssl', args, { stdio: 'pipe' });
    ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=operator CA',
      '-days', '2', '-keyout', path.join(dir, 'op-ca.key'), '-out', path.join(dir, 'op-ca.pem')]);
    ossl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${epHost}`,
      '-keyout', path.join(dir, 'op-server.key'), '-out', path.join(dir, 'op-server.csr')]);
    fs.writeFileSync(path.join(dir, 'op-ext.cnf'), `subjectAltName=IP:${epHost}\nextendedKeyUsage=serverAuth\n`);
    ossl(['x509', '-req', '-in', path.join(dir, 'op-server.csr'), '-CA', path.join(dir, 'op-ca.pem'), '-CAkey',
      path.join(dir, 'op-ca.key'), '-CAcreateserial', '-days', '2', '-extfile', path.join(dir, 'op-ext.cnf'),
      '-out', path.join(dir, 'op-server.pem')]);
    const opCa = fs.readFileSync(path.join(dir, 'op-ca.pem'), 'utf8');
    const handshakeWith = (ca) => new Promise((resolve) => {
      const sock = tls.connect({ host: epHost, port: Number(epPort), ca: [ca] });
      sock.setTimeout(5000);
      sock.on('secureConnect', () => { sock.destroy(); resolve(true); });
      sock.on('error', () => resolve(false));
      sock.on('timeout', () => { sock.destroy(); resolve(false); });
    });
    check(await handshakeWith(caPem) && !(await handshakeWith(opCa)), 'before: the endpoint serves the installation CA\'s certificate');
    fs.copyFileSync(path.join(dir, 'op-server.key'), path.join(tlsDir, 'server.key'));
    fs.copyFileSync(path.join(dir, 'op-server.pem'), path.join(tlsDir, 'server.pem'));
    await waitFor(() => handshakeWith(opCa), 'the operator certificate served without a restart', 20000, 250);
    check(!(await handshakeWith(caPem)), 'after the reload new connections get the operator certificate');
    const described = await open.describeCluster();
    check(described.brokers.length >= 1, 'a connection opened before the reload keeps working');
    await open.disconnect();
    fs.unlinkSync(path.join(tlsDir, 'server.pem'));
    fs.unlinkSync(path.join(tlsDir, 'server.key'));
    await waitFor(() => handshakeWith(caPem), 'issued certificates again once the operator files are gone', 20000, 250);
    check(/TLS: certificates in .* changed: \d+ endpoints reloaded/.test(d.text()), 'the reload is logged');
    log('operator certificate picked up and dropped again without a restart; an open connection kept working');

    // ---- TLS handshakes run on handshake threads (--tls-handshake-threads): clients that stall
    // in the middle of theirs hold no one up, and a stop with them still out is clean.
    check(/TLS handshakes on \d+ threads?|TLS handshakes on the event loop/.test(d.text()),
      'the handshake setting is logged');
    const stalled = [];
    for (let i = 0; i < 24; i++) {
      const s = net.connect({ host: epHost, port: Number(epPort) });
      s.on('error', () => {});
      /* Half send nothing, half the first byte of a TLS record and nothing more. */
      if (i % 2) s.on('connect', () => s.write(Buffer.from([0x16])));
      stalled.push(s);
    }
    await waitFor(() => stalled.every((s) => s.readyState === 'open'), 'stalled handshakes open', 10000);
    check(await handshakeWith(caPem), 'a handshake completes while 24 others are stalled');
    await produceConsume(client(iamBrokers, createMechanism({ region: REGION, credentials: KEYS.dev }), 'iam-stalled'),
      'iam-stalled', 'with stalled handshakes');
    check(stalled.every((s) => s.readyState === 'open'), 'the stalled handshakes are still waiting');
    log('24 stalled TLS handshakes: other clients unaffected');

    // ---- restart: the same installation CA; clients authenticate again through the endpoints
    // (the stalled handshakes are still out: the stop takes them back)
    const r = await d.stop();
    stalled.forEach((s) => s.destroy());
    check(r && r.code === 0, `straitd exited cleanly (${JSON.stringify(r)})`);
    await d.start();
    check(fs.readFileSync(caPath, 'utf8') === caPem, 'the installation CA survives a restart');
    const iamAgain = client(iamBrokers, createMechanism({ region: REGION, credentials: KEYS.dev }), 'iam-restart');
    await waitFor(async () => {
      const adm = iamAgain.admin();
      try { await adm.connect(); await adm.disconnect(); return true; } catch (e) { return false; }
    }, 'an AWS_MSK_IAM client through the endpoint after the restart', 30000, 500);
    await produceConsume(iamAgain, 'iam-restart', 'after a restart');
    log('restart: same CA, AWS_MSK_IAM produce + consume again');

    // ---- the TLS file flags: the operator's issuing CA, the previous installation CA as the
    // mutual-TLS client CA, and mapping rules given on the command line
    await d.stop();
    await d.start(['--endpoint-ca-cert', path.join(dir, 'op-ca.pem'), '--endpoint-ca-key', path.join(dir, 'op-ca.key'),
      '--endpoint-client-ca', caPath, '--endpoint-principal-mapping-rules', 'RULE:^CN=(.*?),O=(.*)$/$2.$1/L,DEFAULT']);
    await waitFor(() => handshakeWith(opCa), 'endpoint certificates issued by --endpoint-ca-cert', 30000, 250);
    check(!(await handshakeWith(caPem)), 'with --endpoint-ca-cert the installation CA no longer issues');
    check(strait(['kafka', 'get-ca-certificate'], { ...kenv, STRAIT_ENDPOINT_URL: d.api }) === opCa,
      'get-ca-certificate returns the operator CA');
    check(h.straitAdmin(d, ['ca-certificate']) === opCa, '`strait admin ca-certificate` asks straitd: the operator CA');
    caPem = opCa;
    await produceConsume(client(iamBrokers, createMechanism({ region: REGION, credentials: KEYS.dev }), 'iam-opca'),
      'iam-opca', 'with the operator CA');
    execFileSync('kcat', ['-b', tlsBrokers[0], '-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${path.join(dir, 'op-ca.pem')}`,
      '-X', `ssl.certificate.location=${clientOut}.pem`, '-X', `ssl.key.location=${clientOut}.key`, '-L', '-m', '15'],
    { stdio: 'pipe', timeout: 60000 });
    await waitFor(() => /authenticated User:payments.mtls-client with mutual TLS/.test(d.text()),
      'the principal mapped by --endpoint-principal-mapping-rules', 10000, 100);
    log('--endpoint-ca-cert/--endpoint-ca-key issue the endpoint certificates; --endpoint-client-ca and '
      + '--endpoint-principal-mapping-rules apply to mutual TLS');

    // ---- --auth-timeout-ms: a client that connects and never authenticates is closed, whether it
    // stalls before the TLS handshake or after it; clients that authenticate are unaffected
    await d.stop();
    await d.start(['--auth-timeout-ms', '1500']);
    const installCa = fs.readFileSync(caPath, 'utf8');
    caPem = installCa; /* without --endpoint-ca-cert the installation CA issues again */
    await waitFor(() => handshakeWith(installCa), 'the endpoint after the restart', 30000, 250);
    const closed = (sock) => new Promise((resolve) => { sock.on('error', () => {}); sock.on('close', () => resolve(true)); });
    const silent = net.connect({ host: epHost, port: Number(epPort) });
    const tlsOnly = tls.connect({ host: epHost, port: Number(epPort), ca: [installCa] });
    const bound = (p) => Promise.race([p, new Promise((resolve) => setTimeout(() => resolve(false), 8000))]);
    const [silentClosed, tlsClosed] = await Promise.all([bound(closed(silent)), bound(closed(tlsOnly))]);
    silent.destroy();
    tlsOnly.destroy();
    check(silentClosed, 'a client that sends nothing is closed after --auth-timeout-ms');
    check(tlsClosed, 'a client that completes TLS but never authenticates is closed after --auth-timeout-ms');
    await waitFor(() => /not authenticated 1500 ms after connecting/.test(d.text()),
      'the close reason is logged', 10000, 100);
    await produceConsume(client(iamBrokers, createMechanism({ region: REGION, credentials: KEYS.dev }), 'iam-deadline'),
      'iam-deadline', 'with --auth-timeout-ms 1500');
    log('--auth-timeout-ms: unauthenticated clients closed, authenticated ones unaffected');
  } catch (e) {
    failed = true;
    console.error(`FAIL: ${e.stack || e}`);
    d.printLog();
  }
  await h.endTest(d, dir, failed);
}

main().catch((e) => { console.error(e); process.exit(1); });
