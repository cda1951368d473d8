#!/usr/bin/env bash
# test_hostile.sh with the broker (and the plugin) under valgrind memcheck.
HOSTILE_VALGRIND=1 HOSTILE_BURST=300 exec bash "$(dirname "$0")/test_hostile.sh"
