#!/usr/bin/env node
/*
 * kafkajs 2.2.4 as a command-line client for the integration tests (tests/integration/), which drive
 * it through a real straitd endpoint. One subcommand per run; results as JSON on stdout, kafkajs' own
 * warnings and errors on stderr; exit status 0 only if the whole job succeeded. Every wait is bounded.
 *
 *   produce  --brokers B --topic T --input FILE [--acks -1] [--batch 500]
 *            FILE holds one JSON [key, value] per line; sends them in order (sendBatch of --batch),
 *            prints {"acked": N, "partitions": {...}}.
 *   consume  --brokers B --topic T --group G --count N --output FILE [--timeout-ms 120000]
 *            joins group G from the beginning, stops after N messages, writes one JSON
 *            {"partition", "offset", "key", "value"} per line to FILE, prints {"consumed": N}.
 *   metadata --brokers B [--topic T]
 *            prints {"brokers": [{nodeId, host, port}], "controller", "topics": [...]}.
 */
'use strict';
const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

function parseArgs(argv) {
    const out = { _: [] };
    for (let i = 0; i < argv.length; i++) {
        if (argv[i].startsWith('--')) {
            out[argv[i].slice(2)] = argv[i + 1];
            i++;
        } else {
            out._.push(argv[i]);
        }
    }
    return out;
}

function need(args, name) {
    if (args[name] === undefined) {
        throw new Error(`missing --${name}`);
    }
    return args[name];
}

function makeKafka(args) {
    return new Kafka({
        clientId: 'strait-it-kafkajs',
        brokers: need(args, 'brokers').split(','),
        connectionTimeout: 10000,
        requestTimeout: 30000,
        retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5000 },
        logLevel: logLevel.WARN,
        logCreator: () => ({ namespace, level, log }) => {
            const { message, ...extra } = log;
            process.stderr.write(`kafkajs ${namespace} [${level}] ${message} ${JSON.stringify(extra)}\n`);
        },
    });
}

function withTimeout(promise, ms, what) {
    let timer;
    const t = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    });
    return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

async function produce(args) {
    const kafka = makeKafka(args);
    const topic = need(args, 'topic');
    const acks = parseInt(args.acks || '-1', 10);
    const batch = parseInt(args.batch || '500', 10);
    const lines = fs.readFileSync(need(args, 'input'), 'utf8').split('\n').filter((l) => l.length);
    const msgs = lines.map((l) => {
        const [key, value] = JSON.parse(l);
        return { key, value };
    });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await withTimeout(producer.connect(), 30000, 'producer connect');
    let acked = 0;
    const partitions = {};
    try {
        for (let i = 0; i < msgs.length; i += batch) {
            const res = await withTimeout(
                producer.send({ topic, acks, messages: msgs.slice(i, i + batch) }),
                60000, `send batch at ${i}`);
            for (const r of res) {
                if (r.errorCode !== 0) {
                    throw new Error(`partition ${r.partition}: error code ${r.errorCode}`);
                }
                partitions[r.partition] = (partitions[r.partition] || 0) + 1;
            }
            acked += Math.min(batch, msgs.length - i);
        }
    } finally {
        await producer.disconnect();
    }
    return { acked, partitions };
}

async function consume(args) {
    const kafka = makeKafka(args);
    const topic = need(args, 'topic');
    const count = parseInt(need(args, 'count'), 10);
    const timeoutMs = parseInt(args['timeout-ms'] || '120000', 10);
    const out = fs.openSync(need(args, 'output'), 'w');
    const consumer = kafka.consumer({
        groupId: need(args, 'group'),
        sessionTimeout: 6000,
        heartbeatInterval: 1000,
        rebalanceTimeout: 10000,
        allowAutoTopicCreation: false,
    });
    let consumed = 0;
    let done;
    const finished = new Promise((resolve) => { done = resolve; });
    await withTimeout(consumer.connect(), 30000, 'consumer connect');
    try {
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
            autoCommit: true,
            eachBatch: async ({ batch }) => {
                for (const m of batch.messages) {
                    fs.writeSync(out, JSON.stringify({
                        partition: batch.partition,
                        offset: Number(m.offset),
                        key: m.key === null ? null : m.key.toString('utf8'),
                        value: m.value === null ? null : m.value.toString('utf8'),
                    }) + '\n');
                    consumed++;
                }
                if (consumed >= count) {
                    done();
                }
            },
        });
        await withTimeout(finished, timeoutMs, `consuming ${count} messages (got ${consumed})`)
            .catch((e) => { throw new Error(`${e.message}; got ${consumed}`); });
    } finally {
        fs.closeSync(out);
        await consumer.disconnect();
    }
    return { consumed };
}

async function metadata(args) {
    const kafka = makeKafka(args);
    const admin = kafka.admin();
    await withTimeout(admin.connect(), 30000, 'admin connect');
    try {
        const cluster = await withTimeout(admin.describeCluster(), 30000, 'describeCluster');
        const res = { brokers: cluster.brokers, controller: cluster.controller };
        if (args.topic) {
            const md = await withTimeout(admin.fetchTopicMetadata({ topics: [args.topic] }), 30000,
                'fetchTopicMetadata');
            res.topics = md.topics;
        }
        return res;
    } finally {
        await admin.disconnect();
    }
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const cmds = { produce, consume, metadata };
    const cmd = cmds[args._[0]];
    if (!cmd) {
        process.stderr.write('usage: kafkajs_client.js produce|consume|metadata --brokers B ...\n');
        process.exit(2);
    }
    const res = await cmd(args);
    process.stdout.write(JSON.stringify(res) + '\n');
}

main().then(() => process.exit(0), (e) => {
    process.stderr.write(`kafkajs_client: ${e.stack || e}\n`);
    process.exit(1);
});
