"""Subscribes to MQTT topic filters and stores every message, binary-safe.

usage: collect.py PORT OUTDIR FILTER...
Writes OUTDIR/NNNNNN.msg (payload bytes) and OUTDIR/NNNNNN.topic per message,
creates OUTDIR/ready once the subscription is acknowledged, and runs until
killed (SIGTERM).
"""
import os
import signal
import sys

import paho.mqtt.client as mqtt


def main():
    port, outdir, filters = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    os.makedirs(outdir, exist_ok=True)
    count = 0

    def on_connect(client, userdata, flags, rc, properties=None):
        client.subscribe([(f, 1) for f in filters])

    def on_subscribe(client, userdata, mid, granted, properties=None):
        open(os.path.join(outdir, "ready"), "w").close()

    def on_message(client, userdata, msg):
        nonlocal count
        base = os.path.join(outdir, "%06d" % count)
        count += 1
        with open(base + ".msg", "wb") as f:
            f.write(msg.payload)
        with open(base + ".topic", "w") as f:
            f.write(msg.topic)

    client = mqtt.Client(client_id="collector-%d" % os.getpid(), protocol=mqtt.MQTTv5)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    signal.signal(signal.SIGTERM, lambda *a: client.disconnect())
    client.connect("127.0.0.1", port)
    client.loop_forever()


if __name__ == "__main__":
    main()
