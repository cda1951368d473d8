/* config_check.h - the bridge's checks on top of msgsec_config_load
 * (config_check.c). */
#ifndef MSGSEC_BRIDGE_CONFIG_CHECK_H
#define MSGSEC_BRIDGE_CONFIG_CHECK_H

#include "msgsec.h"
#include "msgsec_config.h"

/* Bridge-specific checks ("FILE:LINE: reason", MSGSEC_E_USAGE). cfg: borrowed. */
msgsec_err bridge_check_config(const msgsec_config *cfg, msgsec_error *err);

#endif
