#!/usr/bin/env python3
"""A small Kafka client for a SASL_IAM VPC connection, as an application would write one.

It authenticates with IAM the way MSK clients do without the Java plug-in: librdkafka's
OAUTHBEARER mechanism carrying the token that aws-msk-iam-sasl-signer builds (a SigV4-presigned
`GET https://kafka.<region>.amazonaws.com/?Action=kafka-cluster:Connect`, base64url without
padding). The signer is inlined below so that only python3-confluent-kafka is needed.
Credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for temporary credentials,
AWS_SESSION_TOKEN. TLS is verified against --ca (strait's CA: `strait kafka get-ca-certificate`).

  demo-client.py --bootstrap BS --region R --ca ca.pem topics
  demo-client.py --bootstrap BS --region R --ca ca.pem produce TOPIC < lines   (KEY<TAB>VALUE or VALUE)
  demo-client.py --bootstrap BS --region R --ca ca.pem consume TOPIC --group G

produce exits 1 when any message is refused and prints the Kafka error (for example
TOPIC_AUTHORIZATION_FAILED); consume reads until the end of every partition.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import os
import sys
import time
import urllib.parse

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

TOKEN_TTL = 900  # seconds, as aws-msk-iam-sasl-signer


def msk_iam_token(region, key, secret, session_token=None):
    """(token, expiry in epoch seconds): the aws-msk-iam-sasl-signer token for these credentials."""
    host = "kafka.%s.amazonaws.com" % region
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = "%s/%s/kafka-cluster/aws4_request" % (amz_date[:8], region)
    query = {"Action": "kafka-cluster:Connect", "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
             "X-Amz-Credential": "%s/%s" % (key, scope), "X-Amz-Date": amz_date,
             "X-Amz-Expires": str(TOKEN_TTL), "X-Amz-SignedHeaders": "host"}
    if session_token:
        query["X-Amz-Security-Token"] = session_token

    def enc(s):
        return urllib.parse.quote(s, safe="-_.~")

    canonical_query = "&".join("%s=%s" % (enc(k), enc(v)) for k, v in sorted(query.items()))
    canonical_request = "GET\n/\n%s\nhost:%s\n\nhost\n%s" % (
        canonical_query, host, hashlib.sha256(b"").hexdigest())
    string_to_sign = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (
        amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest())
    k = ("AWS4" + secret).encode()
    for part in (amz_date[:8], region, "kafka-cluster", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(k, string_to_sign.encode(), hashlib.sha256).hexdigest()
    url = "https://%s/?%s&X-Amz-Signature=%s&User-Agent=%s" % (
        host, canonical_query, signature, enc("strait-demo-client/1.0"))
    token = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    return token, now.timestamp() + TOKEN_TTL


def config(args):
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        sys.exit("demo-client: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    session_token = os.environ.get("AWS_SESSION_TOKEN")
    return {
        "bootstrap.servers": args.bootstrap,
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": args.ca,
        "sasl.mechanisms": "OAUTHBEARER",
        "oauth_cb": lambda _cfg: msk_iam_token(args.region, key, secret, session_token),
        "client.id": "demo-client",
    }


def topics(args):
    signed = []
    conf = config(args)
    sign = conf["oauth_cb"]
    conf["oauth_cb"] = lambda cfg: signed.append(1) or sign(cfg)
    p = Producer(conf)
    # librdkafka asks for the token through poll(); list_topics() alone would never serve it.
    deadline = time.monotonic() + 10
    while not signed and time.monotonic() < deadline:
        p.poll(0.1)
    md = p.list_topics(timeout=15)
    for name in sorted(md.topics):
        t = md.topics[name]
        if t.error:
            print("%-12s %s" % (name, t.error.name()))
        else:
            print("%-12s %d partitions" % (name, len(t.partitions)))
    return 0


def produce(args):
    refused = []

    def report(err, msg):
        key = msg.key().decode() if msg.key() else ""
        if err:
            refused.append(err)
            print("%s %s: refused: %s (%s)" % (msg.topic(), key, err.name(), err.str()))
        else:
            print("%s %s: partition %d offset %d" % (msg.topic(), key, msg.partition(), msg.offset()))

    p = Producer(dict(config(args), **{"acks": "all", "message.timeout.ms": 15000}))
    for line in sys.stdin.read().splitlines():
        key, _, value = line.rpartition("\t")
        p.produce(args.topic, key=key or None, value=value, on_delivery=report)
        p.poll(0)
    if p.flush(30) != 0:
        print("demo-client: messages still in flight after 30 s", file=sys.stderr)
        return 1
    return 1 if refused else 0


def consume(args):
    c = Consumer(dict(config(args), **{"group.id": args.group, "auto.offset.reset": "earliest",
                                       "enable.partition.eof": True}))
    c.subscribe([args.topic])
    at_end, assigned, count = set(), None, 0
    deadline = time.monotonic() + args.timeout
    try:
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if assigned is None and c.assignment():
                assigned = {(tp.topic, tp.partition) for tp in c.assignment()}
            if m is None:
                if assigned and at_end >= assigned:
                    break
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add((m.topic(), m.partition()))
                    continue
                raise KafkaException(m.error())
            at_end.discard((m.topic(), m.partition()))
            count += 1
            print("partition %d offset %d  %s  %s" % (
                m.partition(), m.offset(), (m.key() or b"").decode(), m.value().decode()))
        else:
            print("demo-client: not at the end of %s after %d s" % (args.topic, args.timeout),
                  file=sys.stderr)
            return 1
        if count:
            c.commit(asynchronous=False)
    finally:
        c.close()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", required=True, help="the VPC connection's bootstrap servers")
    ap.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    ap.add_argument("--ca", required=True, help="CA certificate that signs the endpoints (PEM)")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("topics", help="list the topics this principal may describe")
    p = sub.add_parser("produce", help="produce stdin's lines (KEY<TAB>VALUE or VALUE), acks=all")
    p.add_argument("topic")
    c = sub.add_parser("consume", help="consume from the beginning up to the end of every partition")
    c.add_argument("topic")
    c.add_argument("--group", default="demo-client")
    c.add_argument("--timeout", type=int, default=30)
    args = ap.parse_args()
    try:
        return {"topics": topics, "produce": produce, "consume": consume}[args.command](args)
    except KafkaException as e:
        err = e.args[0]
        print("error: %s (%s)" % (err.name(), err.str()), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
