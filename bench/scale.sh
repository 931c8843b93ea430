#!/bin/sh
# Provider scale (docs/internals.md "Scale"): 20,000 domains and 200,000 accounts (mkmaps,
# mailacct, logins, a domain administrator's page of 10,000 addresses), a mailbox of 100,000
# messages over POP3, a queue of 100,000 messages for a destination that is down. Sizes:
# SCALE_DOMAINS, SCALE_ADMIN_ADDRS, SCALE_POP3_MSGS, SCALE_QUEUE_MSGS; parts: maps pop3 queue.
exec python3 "$(dirname "$0")/scale.py" "$@"
