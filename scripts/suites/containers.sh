#!/usr/bin/env bash
# The grader workflow with Docker: image build, one container, the asg2net cluster, stop/start.
# The xunit black-box suite runs against the containers too.
KVS_BLACKBOX=1 exec bash "$(dirname "$0")/../container-test.sh"
