#!/bin/sh
# Memory of idle SMTP/POP3/POP3S sessions and of the tree at 500+500 (see bench/sessions.py).
exec python3 "$(dirname "$0")/sessions.py" "$@"
