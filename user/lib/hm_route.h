/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* hm_route.h - route grouping options: parsing them into hm_config / hm_route_pattern. */
#ifndef HM_ROUTE_H
#define HM_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include "httpmon.h"

/* "path", "path:DEPTH", "query:NAME" or "none" into cfg's route fields; 0 or -EINVAL. */
int hm_route_group_parse(const char *spec, struct hm_config *cfg, char *err, size_t errlen);

/*
 * "[METHOD ]/seg/{name}/seg" into a pattern whose label is the text itself
 * (without the method); prefix patterns match any target that begins with
 * their segments.  0 or -EINVAL with a reason in err.
 */
int hm_route_pattern_parse(const char *text, bool prefix, struct hm_route_pattern *out, char *err,
			   size_t errlen);

/*
 * "GET", ... for a method id; "" for HM_METHOD_NONE, "_other" for
 * HM_METHOD_OTHER; an extension method's name once hm_method_name_set()
 * gave it (readers load them from hm_method_ids).
 */
const char *hm_method_name(unsigned int method);
void hm_method_name_set(unsigned int method, const char *name, size_t len);

#endif /* HM_ROUTE_H */
