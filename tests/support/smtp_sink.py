#!/usr/bin/env python3
"""A real SMTP server for talentcert's tests.

aiosmtpd listens on 127.0.0.1:PORT; every accepted message is parsed with Python's email
library and written to DIR as one JSON file (recipients, decoded subject, text and HTML parts,
Message-ID, raw size). Prints "ready" once listening. Stops on SIGTERM or SIGINT.

--delay-mail S makes the server wait S seconds before answering MAIL FROM, so that a test can
kill the client while it is delivering, before the server has accepted anything.
"""
import argparse
import asyncio
import json
import os
import signal
import threading
import time
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, delay_mail):
        self.directory = directory
        self.delay_mail = delay_mail

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.delay_mail > 0:
            await asyncio.sleep(self.delay_mail)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "to": str(message.get("To", "")),
            "from": str(message.get("From", "")),
            "subject": str(message.get("Subject", "")),
            "message_id": str(message.get("Message-ID", "")),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
            "size": len(envelope.content),
        }
        name = "%d-%d.json" % (time.time_ns(), os.getpid())
        tmp = os.path.join(self.directory, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.rename(tmp, os.path.join(self.directory, name))
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--delay-mail", type=float, default=0.0)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(Sink(args.dir, args.delay_mail), hostname="127.0.0.1", port=args.port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
