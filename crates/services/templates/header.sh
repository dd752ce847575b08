#!/bin/sh
exec 2>&1
PATH={{ env.path }}
export PATH
LIMINA_OUTPUTS_DIR={{ env.outputs_dir }}
export LIMINA_OUTPUTS_DIR
# {{ origin }} in router.toml (rendered by limina-host router render).
